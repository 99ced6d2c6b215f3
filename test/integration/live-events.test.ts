// Live views across instances (#26): a change made through one instance reaches the live subscribers of
// another through PostgreSQL alone. Each "instance" here is what a server process holds: its own database
// client and its own live bus polling the LiveEvent table. Audit entries and a run's metric points written
// through instance 1 reach subscribers on instance 2, in order, each once; a transaction that commits after
// a later one is still delivered; a subscriber reconnecting to a restarted instance with the last id it
// saw gets what it missed, then the live ones; a subscription through the tRPC API yields tracked ids.
// The database itself announces every change of a run's status and every new notification (triggers),
// whatever code path makes them: the browser's one feed (live.watch) carries both.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { createPrismaClient } from "@/server/db/client";
import { LIVE_RETENTION_MS, LiveBus, publishLive, sweepLiveEvents, type LiveMessage } from "@/server/live/bus";
import { recordAudit } from "@/server/audit/service";
import { auditChannel, type AuditEvent } from "@/server/audit/events";
import { logMetrics } from "@/server/runs/service";
import { metricsChannel } from "@/server/runs/events";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { until } from "../support/serving";

const SYSTEM = { type: "system" } as const;

/** Collects a bus's events on a channel. */
function listen<T>(bus: LiveBus, channel: string) {
  const seen: LiveMessage<T>[] = [];
  const stop = bus.subscribe<T>(channel, (m) => seen.push(m));
  return { seen, stop };
}

describe.each(TEST_DATABASE_KINDS)("live events across instances on %s", (kind) => {
  let url: string;
  let close: () => Promise<void>;
  let one: PrismaClient;
  let two: PrismaClient;
  let f: OrgFixture;

  beforeAll(async () => {
    let db: PrismaClient;
    ({ db, url, close } = await openTestDatabase(kind, { own: true }));
    one = db;
    two = createPrismaClient(url);
    f = await createOrgFixture(one);
  });
  afterAll(async () => {
    await two?.$disconnect();
    await close?.();
  });

  it("delivers audit entries written through one instance to the subscribers of another, in order, once each", async () => {
    const bus = new LiveBus(two, 50);
    const feed = listen<AuditEvent>(bus, auditChannel(f.orgId));
    const elsewhere = listen<AuditEvent>(bus, auditChannel(f.otherOrgId));
    await bus.ready();
    const actions = ["live.first", "live.second", "live.third"];
    for (const action of actions) {
      await one.$transaction((tx) => recordAudit(tx, SYSTEM, { orgId: f.orgId, action, resourceType: "Project", resourceId: unique("r") }));
    }
    await until(() => feed.seen.length >= 3, "three audit events on instance 2");
    await new Promise((resolve) => setTimeout(resolve, 300)); // a few more polls: nothing is delivered twice
    expect(feed.seen.map((m) => m.payload.action)).toEqual(actions);
    const ids = feed.seen.map((m) => BigInt(m.id));
    expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
    // The entry's id is the audit row's: the page re-reads the list.
    const stored = await two.auditLog.findMany({ where: { orgId: f.orgId, action: { in: actions } }, orderBy: { createdAt: "asc" }, select: { id: true } });
    expect(feed.seen.map((m) => m.payload.id)).toEqual(stored.map((s) => s.id));
    // Another organization's feed hears nothing of it.
    expect(elsewhere.seen).toEqual([]);
    // A rolled-back change announces nothing.
    await one.$transaction(async (tx) => {
      await recordAudit(tx, SYSTEM, { orgId: f.orgId, action: "live.rolledBack", resourceType: "Project", resourceId: "x" });
      throw new Error("roll back");
    }).catch(() => undefined);
    await one.$transaction((tx) => recordAudit(tx, SYSTEM, { orgId: f.orgId, action: "live.after", resourceType: "Project", resourceId: "y" }));
    await until(() => feed.seen.some((m) => m.payload.action === "live.after"), "the entry after the rolled-back one");
    expect(feed.seen.map((m) => m.payload.action)).not.toContain("live.rolledBack");
    feed.stop();
    elsewhere.stop();
  });

  it.runIf(kind === "postgres")("delivers an event whose transaction commits after a later one's", async () => {
    const bus = new LiveBus(two, 50);
    const channel = unique("late");
    const feed = listen<{ n: number }>(bus, channel);
    await bus.ready();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let inserted!: () => void;
    const firstInserted = new Promise<void>((resolve) => (inserted = resolve));
    // Transaction 1 takes the lower id, then waits; transaction 2 takes a higher id and commits first.
    const first = one.$transaction(async (tx) => {
      await publishLive(tx, channel, { n: 1 });
      inserted();
      await held;
    });
    await firstInserted;
    await one.$transaction((tx) => publishLive(tx, channel, { n: 2 }));
    await until(() => feed.seen.length >= 1, "the event committed first");
    await new Promise((resolve) => setTimeout(resolve, 200)); // the poller has moved on past it
    release();
    await first;
    await until(() => feed.seen.length >= 2, "the event whose transaction committed last");
    expect(feed.seen.map((m) => m.payload.n)).toEqual([2, 1]);
    expect(BigInt(feed.seen[1].id)).toBeLessThan(BigInt(feed.seen[0].id));
    feed.stop();
  });

  it("gives a subscriber reconnecting to a restarted instance what it missed, then the live events", async () => {
    const runId = f.runId;
    const before = new LiveBus(two, 50);
    const controller = new AbortController();
    const first: LiveMessage[] = [];
    const reading = (async () => {
      for await (const m of before.stream(metricsChannel(runId), controller.signal)) first.push(m);
    })();
    await before.ready();
    await logMetrics(one, SYSTEM, f.orgId, runId, [{ name: "live_loss", step: 1, value: 1.5 }]);
    await until(() => first.length === 1, "the first point on instance 2");
    controller.abort();
    await reading;

    // Instance 2 "restarts" (a new client and bus); meanwhile two more batches are logged through instance 1.
    await logMetrics(one, SYSTEM, f.orgId, runId, [{ name: "live_loss", step: 2, value: 1.25 }]);
    await logMetrics(one, SYSTEM, f.orgId, runId, [{ name: "live_loss", step: 3, value: 1.0 }]);
    const restarted = createPrismaClient(url);
    try {
      const after = new LiveBus(restarted, 50);
      const again = new AbortController();
      const resumed: LiveMessage<{ step: number }[]>[] = [];
      const resuming = (async () => {
        for await (const m of after.stream<{ step: number }[]>(metricsChannel(runId), again.signal, first[0].id)) resumed.push(m);
      })();
      await until(() => resumed.length === 2, "the two missed batches");
      await after.ready();
      await logMetrics(one, SYSTEM, f.orgId, runId, [{ name: "live_loss", step: 4, value: 0.75 }]);
      await until(() => resumed.length === 3, "the live batch after the catch-up");
      expect(resumed.map((m) => m.payload[0].step)).toEqual([2, 3, 4]);
      again.abort();
      await resuming;
    } finally {
      await restarted.$disconnect();
    }
  });

  it("keeps events for the retention only", async () => {
    const channel = unique("old");
    await publishLive(one, channel, { n: "old" });
    await publishLive(one, channel, { n: "new" });
    const [oldest] = await one.$queryRaw<{ id: bigint }[]>`SELECT "id" FROM "LiveEvent" WHERE "channel" = ${channel} ORDER BY "id" LIMIT 1`;
    await one.$executeRaw`UPDATE "LiveEvent" SET "createdAt" = ${new Date(Date.now() - LIVE_RETENTION_MS - 60_000)} WHERE "id" = ${oldest.id}`;
    expect(await sweepLiveEvents(two)).toBeGreaterThanOrEqual(1);
    const left = await one.$queryRaw<{ payload: { n: string } }[]>`SELECT "payload" FROM "LiveEvent" WHERE "channel" = ${channel}`;
    expect(left.map((r) => r.payload.n)).toEqual(["new"]);
  });

  it("streams a run's metric points through the tRPC API with ids a client can resume from", async () => {
    const controller = new AbortController();
    const iterable = await callerFor(two, f.users.VIEWER, { signal: controller.signal }).run.liveMetrics({ runId: f.runId });
    // In process the caller yields tracked() envelopes as they are: [id, data, marker]; over HTTP the id is the SSE event id.
    const got: { id: string; data: { step: number }[] }[] = [];
    const reading = (async () => {
      for await (const event of iterable as AsyncIterable<[string, { step: number }[]]>) {
        got.push({ id: event[0], data: event[1] });
        if (got.length === 1) break;
      }
    })();
    // The subscription starts polling when it is first read; log until the first batch arrives.
    let step = 100;
    await until(async () => {
      if (!got.length) await logMetrics(one, SYSTEM, f.orgId, f.runId, [{ name: "live_loss", step: step++, value: 0.5 }]);
      return got.length > 0;
    }, "a point through the API");
    await reading;
    controller.abort();
    expect(got[0].id).toMatch(/^\d+$/);
    expect(got[0].data[0].step).toBeGreaterThanOrEqual(100);
  });

  it("announces a project's run status changes and the person's new notifications on live.watch, whatever wrote them; refuses a project the person cannot read", async () => {
    const controller = new AbortController();
    const iterable = await callerFor(two, f.users.VIEWER, { signal: controller.signal }).live.watch({ projectId: f.projectId });
    type Event = { type: "run"; runId: string; status: string } | { type: "notification"; id: string; title: string };
    const got: { id: string; data: Event }[] = [];
    const reading = (async () => {
      for await (const event of iterable as AsyncIterable<[string, Event]>) {
        got.push({ id: event[0], data: event[1] });
        if (got.at(-1)!.data.type === "run" && (got.at(-1)!.data as { status: string }).status === "SUCCEEDED") break;
      }
    })();
    // Plain UPDATEs, as a node's report or the lease sweeper make them: the trigger announces each.
    let status: "QUEUED" | "RUNNING" = "QUEUED";
    await until(async () => {
      if (!got.length) await one.run.update({ where: { id: f.runId }, data: { status: (status = status === "QUEUED" ? "RUNNING" : "QUEUED") } });
      return got.length > 0;
    }, "a run's status change on the feed");
    const first = got.length;
    await one.notification.create({ data: { userId: f.users.ADMIN.userId, projectId: f.projectId, kind: "drift", title: "not yours", body: "", link: "/" } });
    await one.notification.create({ data: { userId: f.users.VIEWER.userId, projectId: f.projectId, kind: "drift", title: "Pass rate dropped", body: "", link: "/" } });
    await one.run.update({ where: { id: f.runId }, data: { summary: { note: "not a status change" } } });
    await one.run.update({ where: { id: f.runId }, data: { status: "SUCCEEDED" } });
    await reading;
    controller.abort();
    expect(got.slice(first).map((e) => e.data)).toEqual([
      expect.objectContaining({ type: "notification", title: "Pass rate dropped" }),
      expect.objectContaining({ type: "run", runId: f.runId, status: "SUCCEEDED", kind: "EVAL" }),
    ]);
    const ids = got.map((e) => BigInt(e.id));
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    await one.run.update({ where: { id: f.runId }, data: { status: "RUNNING", summary: {} } });

    const refused = (async () => {
      for await (const _ of (await callerFor(two, f.users.outsider).live.watch({ projectId: f.projectId })) as AsyncIterable<unknown>) break;
    })();
    await expect(refused).rejects.toThrow(/not found|not allowed|access/i);
  });
});
