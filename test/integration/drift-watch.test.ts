// Drift watch (#21): schedules fire under an injected clock exactly once across two instances sharing
// the database; a scheduled run whose pass rate drops by more than the margin (or whose cases regress)
// notifies every member and sends one webhook, signed with HMAC-SHA256, which a real HTTP server on
// loopback verifies; failed deliveries back off and are retried; private webhook addresses are refused;
// the secret is encrypted at rest and never returned again; each member sees only their notifications.
// Scheduled runs here target GPU nodes (the fixture's model version is no folder the server could
// evaluate); the test plays the node's part through the run API, as a node would report.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { startDriftWatch, type DriftWatch } from "@/server/schedules/scheduler";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, verifyWebhookSignature } from "@/server/schedules/webhooks";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { trpcRefusal } from "../support/refusal";

const CASES = ["refund-40", "refund-10", "shipping", "warranty"].map((id) => ({ id, input: `Question ${id}?`, expected: "yes", graders: [{ type: "contains", values: ["yes"] }], tags: [], clauses: [] }));

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver on loopback: records each request; answers 503 to the first `failures` of them. */
async function startReceiver() {
  const received: Received[] = [];
  let failures = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      if (failures > 0) {
        failures--;
        res.writeHead(503).end("busy");
      } else res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hooks/hearth`,
    received,
    failNext: (n: number) => (failures = n),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.each(TEST_DATABASE_KINDS)("drift watch on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const watches: DriftWatch[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-drift-"));
  let suiteVersions = 0;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind, { own: true }));
    process.env.HEARTH_DATA_DIR = dataDir;
    delete process.env.HEARTH_SECRET_KEY;
    receiver = await startReceiver();
    process.env.HEARTH_ENDPOINT_ALLOWLIST = `127.0.0.1:${receiver.port}`;
    f = await createOrgFixture(db);
    await callerFor(db, f.users.EDITOR).model.setAlias({ modelId: f.modelId, alias: "nightly", modelVersionId: f.modelVersionId });
  });
  afterAll(async () => {
    await Promise.all(watches.map((w) => w.close()));
    await receiver?.close();
    await close?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** An instance of the drift watch on this database, driven by the test's clock (no timer of its own). */
  function instance(clock: { now: Date }) {
    const watch = startDriftWatch({ db, now: () => clock.now, pollMs: 0, publicUrl: "https://hearth.example.test", delivery: { baseDelayMs: 60_000, maxDelayMs: 3_600_000, timeoutMs: 5_000 } });
    watches.push(watch);
    return watch;
  }

  async function suiteVersion() {
    const version = await db.suiteVersion.create({
      data: { suiteId: f.suiteId, version: 100 + ++suiteVersions, cases: CASES, caseCount: CASES.length, sha256: "d".repeat(64), message: "drift", authorId: f.users.OWNER.userId },
      select: { id: true },
    });
    return version.id;
  }

  async function createWatch(input: { suiteVersionIds: string[]; webhook?: boolean; marginPoints?: number; interval?: "HOURLY" | "DAILY" }) {
    return callerFor(db, f.users.ADMIN).schedule.create({
      projectId: f.projectId,
      name: unique("watch"),
      suiteVersionIds: input.suiteVersionIds,
      target: { kind: "alias", modelId: f.modelId, alias: "nightly" },
      interval: input.interval ?? "HOURLY",
      marginPoints: input.marginPoints ?? 10,
      webhookUrl: input.webhook ? receiver.url : null,
    });
  }

  /** Plays the GPU node: the run starts, reports a verdict per case, and succeeds. */
  async function finishRun(runId: string, passing: string[]) {
    const editor = callerFor(db, f.users.EDITOR);
    await editor.run.transition({ runId, status: "RUNNING" });
    await editor.run.recordResults({
      runId,
      results: CASES.map((c) => {
        const pass = passing.includes(c.id);
        return { caseId: c.id, output: pass ? "yes" : "no", grades: [{ grader: "contains", score: pass ? 1 : 0, pass, reason: "" }], score: pass ? 1 : 0, pass };
      }),
    });
    await editor.run.transition({ runId, status: "SUCCEEDED" });
  }

  /** Starts the schedule now (as the EDITOR) and returns its one run. */
  async function runNow(scheduleId: string) {
    const fired = await callerFor(db, f.users.EDITOR).schedule.runNow({ scheduleId });
    expect(fired.error).toBeNull();
    expect(fired.runIds).toHaveLength(1);
    return fired.runIds[0];
  }

  it("fires a due slot exactly once across two instances under an injected clock, then the next slot", async () => {
    const versions = [await suiteVersion(), await suiteVersion()];
    const { schedule } = await createWatch({ suiteVersionIds: versions });
    const slot = schedule.nextRunAt;
    expect(slot.getTime() % 3_600_000).toBe(0);
    const clock = { now: new Date(slot.getTime() - 1) };
    const [a, b] = [instance(clock), instance(clock)];

    await Promise.all([a.tick(), b.tick()]);
    expect(await db.scheduleFiring.count({ where: { scheduleId: schedule.id } })).toBe(0);

    clock.now = new Date(slot.getTime() + 1_000);
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
    const firings = await db.scheduleFiring.findMany({ where: { scheduleId: schedule.id }, include: { runs: { include: { run: true } } } });
    expect(firings).toHaveLength(1);
    expect(firings[0]).toMatchObject({ slot, manual: false, error: null, modelVersionId: f.modelVersionId });
    expect(firings[0].runs.map((r) => r.suiteVersionId).sort()).toEqual([...versions].sort());
    for (const { run } of firings[0].runs) expect(run).toMatchObject({ kind: "EVAL", target: "NODE", status: "QUEUED", modelVersionId: f.modelVersionId, createdById: f.users.ADMIN.userId });
    const advanced = await db.evalSchedule.findUniqueOrThrow({ where: { id: schedule.id } });
    expect(advanced).toMatchObject({ nextRunAt: new Date(slot.getTime() + 3_600_000), leaseHolder: null, leaseExpiresAt: null });

    clock.now = new Date(slot.getTime() + 3_600_000);
    await Promise.all([a.tick(), b.tick()]);
    expect(await db.scheduleFiring.count({ where: { scheduleId: schedule.id } })).toBe(2);

    // Paused, a due schedule does not fire; resumed, it starts at its next slot rather than catching up.
    await callerFor(db, f.users.ADMIN).schedule.setEnabled({ scheduleId: schedule.id, enabled: false });
    clock.now = new Date(slot.getTime() + 3 * 3_600_000);
    await Promise.all([a.tick(), b.tick()]);
    expect(await db.scheduleFiring.count({ where: { scheduleId: schedule.id } })).toBe(2);
  });

  it("sends one signed webhook and one notification per member when the pass rate drops by more than the margin", async () => {
    const version = await suiteVersion();
    const created = await createWatch({ suiteVersionIds: [version], webhook: true, marginPoints: 10 });
    const secret = created.webhookSecret!;
    expect(secret).toMatch(/^whsec_/);
    const clock = { now: new Date() };
    const [a, b] = [instance(clock), instance(clock)];
    const before = receiver.received.length;

    await finishRun(await runNow(created.schedule.id), ["refund-40", "refund-10", "shipping", "warranty"]);
    await Promise.all([a.tick(), b.tick()]);
    expect(receiver.received.length).toBe(before); // the first run has nothing to compare with

    const dropped = await runNow(created.schedule.id);
    await finishRun(dropped, ["refund-40", "warranty"]);
    clock.now = new Date(clock.now.getTime() + 1_000);
    await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);

    const sent = receiver.received.slice(before);
    expect(sent).toHaveLength(1);
    const [request] = sent;
    const timestamp = String(request.headers[TIMESTAMP_HEADER]);
    expect(timestamp).toBe(String(Math.floor(clock.now.getTime() / 1000)));
    expect(request.headers[SIGNATURE_HEADER]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature(secret, timestamp, request.body, String(request.headers[SIGNATURE_HEADER]))).toBe(true);
    // A receiver holding another secret, or a tampered body, does not verify.
    expect(verifyWebhookSignature(`${secret}x`, timestamp, request.body, String(request.headers[SIGNATURE_HEADER]))).toBe(false);
    expect(verifyWebhookSignature(secret, timestamp, request.body.replace("50", "51"), String(request.headers[SIGNATURE_HEADER]))).toBe(false);
    const alert = JSON.parse(request.body);
    expect(alert).toMatchObject({
      type: "drift.alert",
      reason: "drop",
      schedule: { id: created.schedule.id },
      run: { id: dropped, url: `https://hearth.example.test/orgs/${f.orgId}/projects/${f.projectId}/runs/${dropped}` },
      score: 50,
      previousScore: 100,
      drop: 50,
      marginPoints: 10,
      regressedCases: ["refund-10", "shipping"],
      regressedCount: 2,
      suiteVersionId: version,
    });

    const delivery = await db.webhookDelivery.findFirstOrThrow({ where: { scheduleId: created.schedule.id } });
    expect(delivery).toMatchObject({ status: "DELIVERED", attempts: 1, lastStatus: 204 });
    const notified = await db.notification.findMany({ where: { link: { endsWith: `/runs/${dropped}` } }, select: { userId: true, title: true } });
    expect(notified.map((n) => n.userId).sort()).toEqual([f.users.OWNER, f.users.ADMIN, f.users.EDITOR, f.users.VIEWER].map((u) => u.userId).sort());
    expect(notified[0].title).toContain("fell 50.0 points");
  });

  it("alerts on a case that regressed even when the pass rate stays within the margin", async () => {
    const version = await suiteVersion();
    const { schedule } = await createWatch({ suiteVersionIds: [version], marginPoints: 30 });
    const clock = { now: new Date() };
    const watch = instance(clock);
    await finishRun(await runNow(schedule.id), ["refund-40", "refund-10"]);
    await watch.tick();
    const swapped = await runNow(schedule.id);
    await finishRun(swapped, ["refund-40", "shipping"]);
    await watch.tick();
    const evaluated = await db.scheduleRun.findUniqueOrThrow({ where: { runId: swapped } });
    expect(evaluated).toMatchObject({ score: 50, previousScore: 50, regressions: 1, alerted: true });
    const mine = await callerFor(db, f.users.VIEWER).notification.list({});
    expect(mine.items.find((n) => n.link.endsWith(`/runs/${swapped}`))).toMatchObject({ title: expect.stringContaining("1 case regressed"), body: expect.stringContaining("refund-10") });
    // The list shows each schedule's latest firing; the schedule's page all of them, newest first.
    const listed = (await callerFor(db, f.users.VIEWER).schedule.list({ projectId: f.projectId })).find((s) => s.id === schedule.id)!;
    expect(listed.suiteVersions).toEqual([{ id: version, version: expect.any(Number), suiteId: f.suiteId, suiteName: expect.any(String) }]);
    expect(listed).toMatchObject({ modelName: expect.any(String), alias: "nightly", lastFiring: { runs: [{ runId: swapped, score: 50, previousScore: 50, alerted: true, regressions: 1, run: { status: "SUCCEEDED" } }] } });
    const detail = await callerFor(db, f.users.VIEWER).schedule.get({ scheduleId: schedule.id });
    expect(detail.firings.map((x) => x.runs[0].runId)).toEqual([swapped, expect.any(String)]);
  });

  it("retries a failed delivery with exponential backoff until it is delivered, recording each attempt", async () => {
    const version = await suiteVersion();
    const created = await createWatch({ suiteVersionIds: [version], webhook: true, marginPoints: 5 });
    const t0 = new Date();
    const clock = { now: t0 };
    const watch = instance(clock);
    await finishRun(await runNow(created.schedule.id), ["refund-40", "refund-10", "shipping", "warranty"]);
    await watch.tick();
    await finishRun(await runNow(created.schedule.id), []);
    receiver.failNext(2);
    const before = receiver.received.length;
    const at = (ms: number) => (clock.now = new Date(t0.getTime() + ms));

    await watch.tick(); // attempt 1: 503
    const first = await db.webhookDelivery.findFirstOrThrow({ where: { scheduleId: created.schedule.id } });
    expect(first).toMatchObject({ status: "PENDING", attempts: 1, lastStatus: 503, nextAttemptAt: new Date(t0.getTime() + 60_000) });
    at(59_000);
    await watch.tick();
    expect(receiver.received.length - before).toBe(1);
    at(60_000);
    await watch.tick(); // attempt 2: 503, then twice the wait
    expect(await db.webhookDelivery.findUniqueOrThrow({ where: { id: first.id } })).toMatchObject({ attempts: 2, nextAttemptAt: new Date(t0.getTime() + 60_000 + 120_000) });
    at(179_000);
    await watch.tick();
    expect(receiver.received.length - before).toBe(2);
    at(180_000);
    await watch.tick(); // attempt 3: delivered
    const done = await db.webhookDelivery.findUniqueOrThrow({ where: { id: first.id } });
    expect(done).toMatchObject({ status: "DELIVERED", attempts: 3, lastStatus: 204, lastError: null, deliveredAt: new Date(t0.getTime() + 180_000) });
    expect((done.attemptLog as { status: number }[]).map((a) => a.status)).toEqual([503, 503, 204]);
    const sent = receiver.received.slice(before);
    expect(sent).toHaveLength(3);
    // Each attempt is signed afresh with its own timestamp; the body is the same bytes each time.
    expect(new Set(sent.map((r) => r.body)).size).toBe(1);
    for (const r of sent) expect(verifyWebhookSignature(created.webhookSecret!, String(r.headers[TIMESTAMP_HEADER]), r.body, String(r.headers[SIGNATURE_HEADER]))).toBe(true);
    at(10 * 3_600_000);
    await watch.tick();
    expect(receiver.received.length - before).toBe(3);
  });

  it("gives a delivery up after its last attempt, and keeps why", async () => {
    const version = await suiteVersion();
    const created = await createWatch({ suiteVersionIds: [version], webhook: true });
    const t0 = new Date();
    const clock = { now: t0 };
    const watch = instance(clock);
    await finishRun(await runNow(created.schedule.id), ["refund-40", "refund-10", "shipping", "warranty"]);
    await watch.tick();
    await finishRun(await runNow(created.schedule.id), ["refund-40"]);
    receiver.failNext(100);
    const before = receiver.received.length;
    // Waits of 1, 2, 4, 8 and 16 minutes (base 60 s) between the six attempts.
    for (const minutes of [0, 1, 3, 7, 15, 31, 63, 127]) {
      clock.now = new Date(t0.getTime() + minutes * 60_000);
      await watch.tick();
    }
    receiver.failNext(0);
    expect(receiver.received.length - before).toBe(6);
    expect(await db.webhookDelivery.findFirstOrThrow({ where: { scheduleId: created.schedule.id } })).toMatchObject({ status: "FAILED", attempts: 6, lastStatus: 503, lastError: "HTTP 503: busy", deliveredAt: null });
  });

  it("runs the alias's version on the server when it is a small folder, and on a GPU node otherwise", async () => {
    const version = await suiteVersion();
    const model = await db.model.create({ data: { projectId: f.projectId, name: unique("folder-model"), createdById: f.users.OWNER.userId }, select: { id: true } });
    const folderVersion = async (n: number, parameters: number) => {
      const v = await db.modelVersion.create({ data: { modelId: model.id, version: n, config: { format: "hf-folder", parameters }, createdById: f.users.OWNER.userId }, select: { id: true } });
      await db.modelVersionFile.create({ data: { modelVersionId: v.id, path: "config.json", sha256: "e".repeat(64), sizeBytes: 10n } });
      return v.id;
    };
    const small = await folderVersion(1, 50_000);
    const large = await folderVersion(2, 70_000_000_000);
    const admin = callerFor(db, f.users.ADMIN);
    await admin.model.setAlias({ modelId: model.id, alias: "nightly", modelVersionId: small });
    const { schedule } = await admin.schedule.create({ projectId: f.projectId, name: unique("folder-watch"), suiteVersionIds: [version], target: { kind: "alias", modelId: model.id, alias: "nightly" }, interval: "DAILY" });
    const editor = callerFor(db, f.users.EDITOR);
    const onServer = (await editor.schedule.runNow({ scheduleId: schedule.id })).runIds[0];
    // Not left for another test file's server worker to pick up: only where it would run matters here.
    await editor.run.transition({ runId: onServer, status: "CANCELLED" }).catch(() => undefined); // already claimed and ended elsewhere
    await admin.model.setAlias({ modelId: model.id, alias: "nightly", modelVersionId: large });
    const onNode = (await editor.schedule.runNow({ scheduleId: schedule.id })).runIds[0];
    expect(await db.run.findUniqueOrThrow({ where: { id: onServer }, select: { target: true, modelVersionId: true } })).toEqual({ target: "SERVER", modelVersionId: small });
    expect(await db.run.findUniqueOrThrow({ where: { id: onNode }, select: { target: true, modelVersionId: true } })).toEqual({ target: "NODE", modelVersionId: large });

    // An alias that is not set is a firing with a reason, and no run.
    await db.modelAlias.deleteMany({ where: { modelId: model.id } });
    expect(await editor.schedule.runNow({ scheduleId: schedule.id })).toMatchObject({ runIds: [], error: 'The model has no "nightly" alias; set it on the model\'s page.' });
  });

  it("runs an endpoint schedule against the endpoint, and stops firing on its own once its maker is no longer an EDITOR", async () => {
    const version = await suiteVersion();
    const { schedule } = await callerFor(db, f.users.ADMIN).schedule.create({ projectId: f.projectId, name: unique("endpoint-watch"), suiteVersionIds: [version], target: { kind: "endpoint", endpointId: f.endpointId }, interval: "HOURLY", offsetMinutes: 30 });
    expect(schedule.nextRunAt.getUTCMinutes()).toBe(30);
    const fired = await callerFor(db, f.users.EDITOR).schedule.runNow({ scheduleId: schedule.id });
    const run = await db.run.findUniqueOrThrow({ where: { id: fired.runIds[0] }, select: { target: true, endpointId: true, modelVersionId: true, config: true } });
    expect(run).toMatchObject({ target: "ENDPOINT", endpointId: f.endpointId, modelVersionId: null, config: { maxTokens: 64, temperature: 0, api: "auto" } });

    await db.membership.update({ where: { id: f.memberships.ADMIN }, data: { role: "VIEWER" } });
    try {
      const clock = { now: new Date(schedule.nextRunAt.getTime() + 1_000) };
      await instance(clock).tick();
      const [firing] = await db.scheduleFiring.findMany({ where: { scheduleId: schedule.id, manual: false } });
      expect(firing).toMatchObject({ slot: schedule.nextRunAt, error: expect.stringContaining("no longer an EDITOR") });
      expect(await db.scheduleRun.count({ where: { firingId: firing.id } })).toBe(0);
    } finally {
      await db.membership.update({ where: { id: f.memberships.ADMIN }, data: { role: "ADMIN" } });
    }
  });

  it("refuses a webhook URL on a private, loopback or metadata address", async () => {
    const version = await suiteVersion();
    const admin = callerFor(db, f.users.ADMIN);
    const count = await db.evalSchedule.count({ where: { projectId: f.projectId } });
    for (const webhookUrl of ["http://10.0.0.7/hook", "http://192.168.1.20:8080/hook", "http://127.0.0.1:1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook"]) {
      const error = await trpcRefusal(admin.schedule.create({ projectId: f.projectId, name: unique("private"), suiteVersionIds: [version], target: { kind: "alias", modelId: f.modelId, alias: "nightly" }, interval: "DAILY", webhookUrl }));
      expect(error.code, webhookUrl).toBe("BAD_REQUEST");
      expect(error.message, webhookUrl).toMatch(/^webhookUrl: .*(private|loopback|link-local|metadata)/);
    }
    const { schedule } = await createWatch({ suiteVersionIds: [version] });
    const changed = await trpcRefusal(admin.schedule.update({ scheduleId: schedule.id, webhookUrl: "http://172.16.0.1/hook" }));
    expect(changed.code).toBe("BAD_REQUEST");
    expect(await db.evalSchedule.count({ where: { projectId: f.projectId } })).toBe(count + 1);
    expect((await db.evalSchedule.findUniqueOrThrow({ where: { id: schedule.id } })).webhookUrl).toBeNull();
  });

  it("keeps the webhook secret encrypted at rest, shows it once, and never returns or audits it", async () => {
    const version = await suiteVersion();
    const created = await createWatch({ suiteVersionIds: [version], webhook: true });
    const secret = created.webhookSecret!;
    const row = await db.evalSchedule.findUniqueOrThrow({ where: { id: created.schedule.id } });
    expect(row.webhookSecretCiphertext).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(row.webhookSecretCiphertext).not.toContain(secret);
    const viewer = callerFor(db, f.users.VIEWER);
    const seen = JSON.stringify([created.schedule, await viewer.schedule.list({ projectId: f.projectId }), await viewer.schedule.get({ scheduleId: created.schedule.id })]);
    expect(seen).not.toContain(secret);
    expect(seen).not.toContain(row.webhookSecretCiphertext);
    expect(created.schedule).toMatchObject({ hasWebhookSecret: true });
    // A secret the ADMIN gives is not echoed back; a rotated one is shown once.
    const admin = callerFor(db, f.users.ADMIN);
    expect((await admin.schedule.update({ scheduleId: created.schedule.id, webhookSecret: "my-own-secret-0123456789" })).webhookSecret).toBeNull();
    const rotated = (await admin.schedule.update({ scheduleId: created.schedule.id, rotateWebhookSecret: true })).webhookSecret;
    expect(rotated).toMatch(/^whsec_/);
    const audit = JSON.stringify(await db.auditLog.findMany({ where: { resourceId: created.schedule.id } }));
    for (const s of [secret, "my-own-secret-0123456789", rotated!]) expect(audit).not.toContain(s);
  });

  it("shows each member only their own notifications, and only while they are a member", async () => {
    const version = await suiteVersion();
    const { schedule } = await createWatch({ suiteVersionIds: [version] });
    const clock = { now: new Date() };
    const watch = instance(clock);
    await finishRun(await runNow(schedule.id), ["refund-40", "refund-10", "shipping", "warranty"]);
    await watch.tick();
    const failed = await runNow(schedule.id);
    await finishRun(failed, ["refund-40"]);
    await watch.tick();

    const editor = callerFor(db, f.users.EDITOR);
    const viewer = callerFor(db, f.users.VIEWER);
    const editorsOwn = (await editor.notification.list({})).items.find((n) => n.link.endsWith(`/runs/${failed}`))!;
    const viewersOwn = (await viewer.notification.list({})).items.find((n) => n.link.endsWith(`/runs/${failed}`))!;
    expect(editorsOwn.id).not.toBe(viewersOwn.id);
    expect((await callerFor(db, f.users.outsider).notification.list({})).items.some((n) => n.link.endsWith(`/runs/${failed}`))).toBe(false);

    // Another member's ids are ignored; one's own are marked.
    expect(await editor.notification.markRead({ ids: [viewersOwn.id] })).toEqual({ marked: 0 });
    expect((await db.notification.findUniqueOrThrow({ where: { id: viewersOwn.id } })).readAt).toBeNull();
    const unread = (await editor.notification.list({})).unread;
    expect(await editor.notification.markRead({ ids: [editorsOwn.id] })).toEqual({ marked: 1 });
    expect((await editor.notification.list({})).unread).toBe(unread - 1);
    expect((await editor.notification.list({ unreadOnly: true })).items.some((n) => n.id === editorsOwn.id)).toBe(false);

    await db.membership.delete({ where: { id: f.memberships.VIEWER } });
    expect((await viewer.notification.list({})).items.some((n) => n.id === viewersOwn.id)).toBe(false);
    await db.membership.create({ data: { orgId: f.orgId, userId: f.users.VIEWER.userId, role: "VIEWER" } }).then((m) => (f.memberships.VIEWER = m.id));
  });
});
