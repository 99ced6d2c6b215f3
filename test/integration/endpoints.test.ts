// External endpoints: registered by ADMINs only, the key encrypted at rest and kept out of every
// answer and audit entry, URLs checked by the SSRF guard; project keys; and eval runs with target
// ENDPOINT executed by the server's worker: concurrency limit, retries with backoff on 429/5xx and
// timeouts, per-case latency and tokens, a wrong key or refused address failing the run, cancel,
// resume after a server stops, and the attempt limit. The endpoint is a real HTTP server on loopback
// standing in for a third-party OpenAI-compatible service (its answers are scripted per prompt).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { startEndpointRunWorker, type EndpointRunWorker } from "@/server/runs/eval-runner";
import { endpointTarget } from "@/server/endpoints/service";
import { decryptSecret, encryptSecret, SecretKeyMismatch, serverKey } from "@/server/endpoints/crypto";
import { parseAllowlist } from "@/server/endpoints/ssrf";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { trpcRefusal } from "../support/refusal";
import { startUpstream, UPSTREAM_KEY } from "../support/openai-upstream";

const caseOf = (id: string, input: unknown, values = ["30 days"]) => ({ id, input, graders: [{ type: "contains", values }], tags: ["refunds"], clauses: [] });

async function suiteVersionWith(db: PrismaClient, f: OrgFixture, cases: unknown[]): Promise<string> {
  const suite = await db.evalSuite.create({ data: { projectId: f.projectId, name: unique("endpoint-suite"), draft: cases as object[], createdById: f.users.OWNER.userId }, select: { id: true } });
  const version = await db.suiteVersion.create({
    data: { suiteId: suite.id, version: 1, cases: cases as object[], caseCount: cases.length, sha256: "2".repeat(64), message: "v1", authorId: f.users.OWNER.userId },
    select: { id: true },
  });
  return version.id;
}

async function waitForRun(db: PrismaClient, runId: string, statuses: string[] = ["SUCCEEDED", "FAILED", "CANCELLED"]) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const run = await db.run.findUniqueOrThrow({ where: { id: runId } });
    if (statuses.includes(run.status)) return run;
    if (Date.now() > deadline) throw new Error(`run ${runId} is still ${run.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function until(check: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.each(TEST_DATABASE_KINDS)("endpoints on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let worker: EndpointRunWorker;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-endpoints-"));

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind, { own: true }));
    process.env.HEARTH_DATA_DIR = dataDir;
    delete process.env.HEARTH_SECRET_KEY;
    upstream = await startUpstream();
    process.env.HEARTH_ENDPOINT_ALLOWLIST = `127.0.0.1:${upstream.port}`;
    f = await createOrgFixture(db);
    worker = startEndpointRunWorker({
      db,
      pollMs: 200,
      leaseMs: 1_500,
      retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 40 },
      guard: { allowlist: parseAllowlist(`127.0.0.1:${upstream.port}`) },
    });
  });
  afterAll(async () => {
    await worker?.close();
    await upstream?.close();
    await close?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function registerEndpoint(options: { maxConcurrency?: number; timeoutMs?: number; apiKey?: string } = {}) {
    return callerFor(db, f.users.ADMIN).endpoint.create({
      projectId: f.projectId,
      name: unique("upstream"),
      baseUrl: upstream.baseUrl,
      model: "upstream-model",
      apiKey: options.apiKey ?? UPSTREAM_KEY,
      maxConcurrency: options.maxConcurrency ?? 2,
      timeoutMs: options.timeoutMs ?? 2_000,
    });
  }

  it("keeps the key encrypted at rest and out of answers and audit entries", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    const created = await registerEndpoint();
    expect(created).toMatchObject({ hasKey: true, baseUrl: upstream.baseUrl, model: "upstream-model" });
    expect(JSON.stringify(created)).not.toContain(UPSTREAM_KEY);
    const row = await db.endpoint.findUniqueOrThrow({ where: { id: created.id } });
    expect(row.keyCiphertext).toMatch(/^v1\.[0-9a-f]{12}\./);
    expect(row.keyCiphertext).not.toContain(UPSTREAM_KEY);
    expect(row.keyCiphertext).not.toContain(Buffer.from(UPSTREAM_KEY).toString("base64url"));
    expect((await endpointTarget(db, created.id)).apiKey).toBe(UPSTREAM_KEY);
    // Bound to its record: the same ciphertext under another endpoint's id does not decrypt.
    expect(() => decryptSecret(row.keyCiphertext!, `endpoint:${f.endpointId}`)).toThrow();

    await admin.endpoint.update({ endpointId: created.id, apiKey: "sk-rotated-0987654321" });
    expect((await endpointTarget(db, created.id)).apiKey).toBe("sk-rotated-0987654321");
    const listed = await callerFor(db, f.users.VIEWER).endpoint.list({ projectId: f.projectId });
    expect(JSON.stringify(listed)).not.toMatch(/sk-rotated|sk-upstream|v1\./);
    await admin.endpoint.update({ endpointId: created.id, apiKey: null });
    expect(await endpointTarget(db, created.id)).not.toHaveProperty("apiKey");

    const audit = await db.auditLog.findMany({ where: { resourceId: created.id }, orderBy: { createdAt: "asc" } });
    expect(audit.map((a) => a.action)).toEqual(["endpoint.create", "endpoint.update", "endpoint.update"]);
    expect(audit[1].after).toMatchObject({ hasKey: true, keyChanged: true });
    expect(audit[2].after).toMatchObject({ hasKey: false, keyChanged: true });
    const everything = JSON.stringify(audit);
    expect(everything).not.toContain("sk-");
    expect(everything).not.toContain(row.keyCiphertext!);
  });

  it("generates the server key once in the data directory, or takes HEARTH_SECRET_KEY, and names a mismatch", () => {
    const file = path.join(dataDir, "secret.key");
    const fromFile = serverKey();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(serverKey().id).toBe(fromFile.id);
    const sealed = encryptSecret("sk-abc", "endpoint:x");
    process.env.HEARTH_SECRET_KEY = Buffer.alloc(32, 7).toString("base64");
    try {
      expect(serverKey().id).not.toBe(fromFile.id);
      const error = (() => {
        try {
          decryptSecret(sealed, "endpoint:x");
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(SecretKeyMismatch);
      expect((error as Error).message).toContain(`encrypted under server key ${fromFile.id}`);
      process.env.HEARTH_SECRET_KEY = "too short";
      expect(() => serverKey()).toThrow(/HEARTH_SECRET_KEY must be 32 bytes/);
    } finally {
      delete process.env.HEARTH_SECRET_KEY;
    }
    expect(decryptSecret(sealed, "endpoint:x")).toBe("sk-abc");
  });

  it("refuses to register a private, metadata or unresolvable address unless the operator allowlists it", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    const register = (baseUrl: string) => admin.endpoint.create({ projectId: f.projectId, name: unique("bad"), baseUrl, model: "m" });
    expect((await trpcRefusal(register("http://169.254.169.254/latest"))).message).toContain("cloud metadata");
    expect((await trpcRefusal(register("http://10.1.2.3:8000/v1"))).message).toContain("private");
    expect((await trpcRefusal(register("http://127.0.0.1:9/v1"))).message).toContain("loopback");
    expect((await trpcRefusal(register("http://[::ffff:127.0.0.1]/v1"))).message).toContain("loopback");
    expect((await trpcRefusal(register("ftp://example.com/v1"))).message).toContain("http");
    expect((await trpcRefusal(register("http://user:pw@example.com/v1"))).message).toContain("user name or password");
    const editor = await trpcRefusal(callerFor(db, f.users.EDITOR).endpoint.create({ projectId: f.projectId, name: unique("x"), baseUrl: upstream.baseUrl, model: "m" }));
    expect(editor.code).toBe("FORBIDDEN");
    // Edits are checked as well.
    const ok = await registerEndpoint();
    expect((await trpcRefusal(admin.endpoint.update({ endpointId: ok.id, baseUrl: "http://192.168.0.10/v1" }))).message).toContain("private");
  });

  it("checks an endpoint: it answers and serves the model", async () => {
    const created = await registerEndpoint();
    const report = await callerFor(db, f.users.ADMIN).endpoint.check({ endpointId: created.id });
    expect(report).toMatchObject({ ok: true, status: 200, servesModel: true, models: ["upstream-model"] });
    expect(upstream.requests.at(-1)).toMatchObject({ path: "/v1/models", authorization: `Bearer ${UPSTREAM_KEY}` });
  });

  it("answers a playground chat turn through the endpoint, audited without the messages, and names an endpoint that does not answer", async () => {
    const created = await registerEndpoint();
    const editor = callerFor(db, f.users.EDITOR);
    const reply = await editor.endpoint.chat({ endpointId: created.id, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Can I get a refund?" }], maxTokens: 32, temperature: 0, seed: 3 });
    expect(reply).toMatchObject({ text: "No, refunds close after 30 days.", finishReason: "stop", model: "upstream-model", baseUrl: upstream.baseUrl });
    expect(upstream.requests.at(-1)).toMatchObject({ path: "/v1/chat/completions", body: { model: "upstream-model", messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Can I get a refund?" }], max_tokens: 32, temperature: 0, seed: 3 } });
    const [entry] = await db.auditLog.findMany({ where: { action: "endpoint.chat", resourceId: created.id } });
    expect(entry.after).toMatchObject({ turns: 2 });
    expect(JSON.stringify(entry.after)).not.toContain("refund");

    const down = await db.endpoint.create({ data: { projectId: f.projectId, name: unique("down"), baseUrl: "http://127.0.0.1:9/v1", model: "m", createdById: f.users.ADMIN.userId }, select: { id: true, name: true } });
    const refused = await trpcRefusal(editor.endpoint.chat({ endpointId: down.id, messages: [{ role: "user", content: "Hi" }], maxTokens: 8, temperature: 0 }));
    expect(refused.code).toBe("PRECONDITION_FAILED");
    expect(refused.message).toContain(`${down.name} did not answer`);
    // A VIEWER may read endpoints but not spend them.
    expect((await trpcRefusal(callerFor(db, f.users.VIEWER).endpoint.chat({ endpointId: created.id, messages: [{ role: "user", content: "Hi" }], maxTokens: 8, temperature: 0 }))).code).toBe("FORBIDDEN");
  });

  it("limits a project key to its project", async () => {
    const other = await db.project.create({ data: { orgId: f.orgId, name: "Other", slug: unique("other") }, select: { id: true } });
    const created = await callerFor(db, f.users.OWNER).apiKey.create({ orgId: f.orgId, name: "project key", scopes: ["projects:read", "runs:read"], projectId: f.projectId });
    expect(created.key.project).toMatchObject({ id: f.projectId });
    const { authenticateApiKey } = await import("@/server/apikeys/service");
    const actor = await authenticateApiKey(db, created.secret);
    expect(actor).toMatchObject({ type: "apiKey", projectId: f.projectId });
    const caller = callerFor(db, actor);
    expect((await caller.project.get({ projectId: f.projectId })).id).toBe(f.projectId);
    expect((await caller.run.get({ runId: f.runId })).id).toBe(f.runId);
    expect((await trpcRefusal(caller.project.get({ projectId: other.id }))).code).toBe("NOT_FOUND");
    expect((await trpcRefusal(caller.run.list({ projectId: other.id }))).code).toBe("NOT_FOUND");
    expect((await trpcRefusal(caller.project.list({ orgId: f.orgId }))).code).toBe("FORBIDDEN");
    // A project of another organization cannot be named at all.
    const foreign = await db.project.create({ data: { orgId: f.otherOrgId, name: "Foreign", slug: unique("foreign") }, select: { id: true } });
    expect((await trpcRefusal(callerFor(db, f.users.OWNER).apiKey.create({ orgId: f.orgId, name: "k", scopes: ["projects:read"], projectId: foreign.id }))).code).toBe("NOT_FOUND");
  });

  it("runs an eval against the endpoint: chat and text inputs, retries, concurrency, latency and tokens per case", async () => {
    const endpoint = await registerEndpoint({ maxConcurrency: 2 });
    const cases = [
      caseOf("text-refund", "Can I get a refund after 40 days?"),
      caseOf("chat-refund", [{ role: "system", content: "Be brief." }, { role: "user", content: "Refund after 40 days?" }]),
      caseOf("rate-limited", "[429 once] refund please"),
      caseOf("flaky", "[500 twice] refund please"),
      caseOf("slow", "[slow once] refund please"),
      caseOf("unknown", "What is the capital of Mars?"),
      caseOf("down", "[always 503] refund"),
      caseOf("more-1", "refund one"),
      caseOf("more-2", "refund two"),
    ];
    const suiteVersionId = await suiteVersionWith(db, f, cases);
    upstream.resetInFlight();
    const before = upstream.requests.length;
    const run = await callerFor(db, f.users.EDITOR).run.create({
      projectId: f.projectId,
      kind: "EVAL",
      target: "ENDPOINT",
      endpointId: endpoint.id,
      suiteVersionId,
      config: { maxTokens: 32, temperature: 0 },
    });
    expect(run).toMatchObject({ status: "QUEUED", endpointId: endpoint.id, config: { maxTokens: 32, temperature: 0, api: "auto" } });
    const done = await waitForRun(db, run.id);
    expect(done.status).toBe("SUCCEEDED");

    const results = await callerFor(db, f.users.VIEWER).run.results({ runId: run.id });
    const byCase = new Map(results.items.map((r) => [r.caseId, r]));
    expect([...byCase.keys()].sort()).toEqual(cases.map((c) => c.id).sort());
    for (const id of ["text-refund", "chat-refund", "rate-limited", "flaky", "slow", "more-1", "more-2"]) {
      expect(byCase.get(id), id).toMatchObject({ pass: true, output: "No, refunds close after 30 days." });
      expect(byCase.get(id)!.latencyMs, id).toBeGreaterThanOrEqual(0);
      expect(byCase.get(id)!.completionTokens, id).toBe(6);
    }
    expect(byCase.get("unknown")).toMatchObject({ pass: false, output: "I do not know." });
    const down = byCase.get("down")!;
    expect(down).toMatchObject({ pass: false, latencyMs: null, grades: [{ grader: "endpoint", pass: false }] });
    expect(down.grades[0].reason).toContain("Gave up after 3 attempts: HTTP 503: overloaded");

    const sent = upstream.requests.slice(before);
    // Text inputs go to /completions, chat inputs to /chat/completions, with the decrypted key.
    expect(sent.find((r) => r.body.prompt === "Can I get a refund after 40 days?")).toMatchObject({ path: "/v1/completions", authorization: `Bearer ${UPSTREAM_KEY}`, body: { max_tokens: 32, temperature: 0 } });
    expect(sent.find((r) => r.body.messages)).toMatchObject({ path: "/v1/chat/completions", body: { messages: [{ role: "system" }, { role: "user", content: "Refund after 40 days?" }] } });
    const attempts = (marker: string) => sent.filter((r) => r.body.prompt?.includes(marker)).length;
    expect([attempts("[429 once]"), attempts("[500 twice]"), attempts("[slow once]"), attempts("[always 503]")]).toEqual([2, 3, 2, 3]);
    expect(upstream.maxInFlight()).toBeLessThanOrEqual(2);
    expect(upstream.maxInFlight()).toBe(2);

    expect(done.summary).toMatchObject({ cases: 9, graded: 9, passed: 7, usage: { answered: 8, completionTokens: 7 * 6 + 4 } });
    const metrics = await callerFor(db, f.users.VIEWER).run.metrics({ runId: run.id });
    const casesDone = metrics.find((m) => m.name === "cases_done")!;
    expect(casesDone.values).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(metrics.find((m) => m.name === "latency_ms")!.values).toHaveLength(8);
    const audit = await db.auditLog.findMany({ where: { resourceId: run.id }, select: { action: true, actorType: true }, orderBy: { createdAt: "asc" } });
    expect(audit).toEqual([
      { action: "run.create", actorType: "USER" },
      { action: "run.running", actorType: "SYSTEM" },
      { action: "run.succeeded", actorType: "SYSTEM" },
    ]);
    // Clients cannot write into a run the server executes.
    expect((await trpcRefusal(callerFor(db, f.users.EDITOR).run.transition({ runId: run.id, status: "FAILED" }))).code).toBe("PRECONDITION_FAILED");
  });

  it("grades rubric cases with another endpoint of the project as the judge", async () => {
    const answering = await registerEndpoint();
    const judge = await registerEndpoint();
    const rubric = (id: string, input: string) => ({ id, input, graders: [{ type: "rubric", rubric: "The answer states the 30-day refund window." }], tags: [], clauses: [] });
    const suiteVersionId = await suiteVersionWith(db, f, [rubric("judged-good", "Refund after 40 days?"), rubric("judged-bad", "What is the capital of Mars?")]);
    const before = upstream.requests.length;
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: answering.id, suiteVersionId, config: { judgeEndpointId: judge.id } });
    expect((await waitForRun(db, run.id)).status).toBe("SUCCEEDED");
    const results = Object.fromEntries((await db.evalResult.findMany({ where: { runId: run.id } })).map((r) => [r.caseId, r]));
    expect(results["judged-good"]).toMatchObject({ pass: true, grades: [{ grader: "rubric", score: 1, reason: "judge: states the 30-day window" }] });
    expect(results["judged-bad"]).toMatchObject({ pass: false, grades: [{ grader: "rubric", score: 0, reason: "judge: does not state the window" }] });
    // The judge saw the answer fenced as untrusted data, in a chat request of its own.
    const judgeCalls = upstream.requests.slice(before).filter((r) => r.body.messages?.[0]?.content.includes("<<<BEGIN_UNTRUSTED_OUTPUT"));
    expect(judgeCalls).toHaveLength(2);
    expect(judgeCalls[0]).toMatchObject({ path: "/v1/chat/completions", body: { temperature: 0 } });
  });

  it("fails the run with the endpoint's reason on a wrong key or a refused address", async () => {
    const wrongKey = await registerEndpoint({ apiKey: "sk-wrong" });
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("a", "refund a"), caseOf("b", "refund b")]);
    const editor = callerFor(db, f.users.EDITOR);
    const failed = await waitForRun(db, (await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: wrongKey.id, suiteVersionId })).id);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toContain("HTTP 401: Incorrect API key provided.");

    // Registered before the operator narrowed the allowlist: refused at request time.
    const stale = await db.endpoint.create({ data: { projectId: f.projectId, name: unique("stale"), baseUrl: "http://127.0.0.1:9/v1", model: "m", createdById: f.users.ADMIN.userId }, select: { id: true } });
    const refused = await waitForRun(db, (await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: stale.id, suiteVersionId })).id);
    expect(refused.status).toBe("FAILED");
    expect(refused.error).toContain("127.0.0.1 is a loopback address");
    expect(await db.evalResult.count({ where: { runId: refused.id } })).toBe(0);
  });

  it("refuses an endpoint run without an endpoint, with another project's endpoint, or with a bad config", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("a", "refund")]);
    const base = { projectId: f.projectId, kind: "EVAL" as const, target: "ENDPOINT" as const, suiteVersionId };
    expect((await trpcRefusal(editor.run.create(base))).message).toContain("endpointId");
    const other = await createOrgFixture(db);
    expect((await trpcRefusal(editor.run.create({ ...base, endpointId: other.endpointId }))).code).toBe("NOT_FOUND");
    expect((await trpcRefusal(editor.run.create({ ...base, endpointId: f.endpointId, config: { judgeEndpointId: other.endpointId } }))).code).toBe("NOT_FOUND");
    expect((await trpcRefusal(editor.run.create({ ...base, endpointId: f.endpointId, config: { maxTokens: 0 } }))).message).toContain("maxTokens");
    expect((await trpcRefusal(editor.run.create({ ...base, endpointId: f.endpointId, config: { temprature: 0 } }))).message).toContain("temprature");
    expect((await trpcRefusal(editor.run.create({ ...base, target: "BROWSER", endpointId: f.endpointId }))).message).toContain("only runs with target ENDPOINT");
  });

  it("stops at once when a person cancels, closing the requests in flight", async () => {
    const endpoint = await registerEndpoint({ timeoutMs: 120_000 });
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("first", "refund first"), caseOf("hang-1", "[hang] one"), caseOf("hang-2", "[hang] two"), caseOf("later", "refund later")]);
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: endpoint.id, suiteVersionId });
    await until(() => upstream.requests.filter((r) => r.body.prompt?.startsWith("[hang]")).length === 2);
    await callerFor(db, f.users.EDITOR).run.transition({ runId: run.id, status: "CANCELLED" });
    await until(() => upstream.closedEarly.filter((p) => p.startsWith("[hang]")).length === 2);
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after.status).toBe("CANCELLED");
    const results = await db.evalResult.findMany({ where: { runId: run.id }, select: { caseId: true } });
    expect(results.map((r) => r.caseId)).toEqual(["first"]);
  });

  it("stops working on a run whose lease another instance took over, without touching its status", async () => {
    const endpoint = await registerEndpoint({ timeoutMs: 120_000 });
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("only", "[hang] taken over")]);
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: endpoint.id, suiteVersionId });
    await until(() => upstream.requests.some((r) => r.body.prompt === "[hang] taken over"));
    // As another instance does when it judged the lease expired: a lease of its own.
    await db.run.update({ where: { id: run.id }, data: { leaseExpiresAt: new Date(Date.now() + 600_000) } });
    await until(() => upstream.closedEarly.includes("[hang] taken over"));
    expect((await db.run.findUniqueOrThrow({ where: { id: run.id } })).status).toBe("RUNNING");
    await callerFor(db, f.users.EDITOR).run.transition({ runId: run.id, status: "CANCELLED" });
  });

  it("resumes a run whose server stopped, skipping graded cases, and gives up after the attempt limit", async () => {
    const endpoint = await registerEndpoint();
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("done-before", "refund done"), caseOf("left-1", "refund left one"), caseOf("left-2", "refund left two")]);
    // As a crashed server leaves it: RUNNING, one result stored, its lease run out.
    const orphan = await db.run.create({
      data: { projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", status: "RUNNING", endpointId: endpoint.id, suiteVersionId, config: { maxTokens: 16, temperature: 0, api: "auto" }, attempts: 1, leaseExpiresAt: new Date(Date.now() - 1_000), startedAt: new Date(), createdById: f.users.EDITOR.userId },
      select: { id: true },
    });
    await db.evalResult.create({ data: { runId: orphan.id, caseId: "done-before", output: "stored before the crash", grades: [], score: 1, pass: true } });
    const before = upstream.requests.length;
    worker.wake();
    const resumed = await waitForRun(db, orphan.id);
    expect(resumed).toMatchObject({ status: "SUCCEEDED", attempts: 2 });
    expect(upstream.requests.slice(before).map((r) => r.body.prompt).sort()).toEqual(["refund left one", "refund left two"]);
    expect((await db.evalResult.findUniqueOrThrow({ where: { runId_caseId: { runId: orphan.id, caseId: "done-before" } } })).output).toBe("stored before the crash");
    expect(await db.auditLog.count({ where: { resourceId: orphan.id, action: "run.resumed" } })).toBe(1);

    const exhausted = await db.run.create({
      data: { projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", status: "RUNNING", endpointId: endpoint.id, suiteVersionId, attempts: 3, maxAttempts: 3, leaseExpiresAt: new Date(Date.now() - 1_000), createdById: f.users.EDITOR.userId },
      select: { id: true },
    });
    worker.wake();
    const gaveUp = await waitForRun(db, exhausted.id);
    expect(gaveUp.status).toBe("FAILED");
    expect(gaveUp.error).toContain("giving up after 3 attempts");
  });

  it("hands a running run back when the server stops, and the next worker resumes it", async () => {
    const endpoint = await registerEndpoint({ timeoutMs: 120_000 });
    const suiteVersionId = await suiteVersionWith(db, f, [caseOf("quick", "refund quick"), caseOf("stuck", "[hang] stuck"), caseOf("tail", "refund tail")]);
    const stopping = startEndpointRunWorker({ db, pollMs: 100_000, leaseMs: 60_000, guard: { allowlist: parseAllowlist(`127.0.0.1:${upstream.port}`) } });
    await worker.close(); // only the worker under test may take it
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: endpoint.id, suiteVersionId });
    await until(() => upstream.requests.some((r) => r.body.prompt === "[hang] stuck"));
    await stopping.close();
    const handedBack = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(handedBack.status).toBe("RUNNING");
    expect(handedBack.leaseExpiresAt!.getTime()).toBeLessThan(Date.now());
    // The next worker resumes it; the stuck case is the only one left and now hangs again, so cancel it there.
    worker = startEndpointRunWorker({ db, pollMs: 200, leaseMs: 1_500, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 40 }, guard: { allowlist: parseAllowlist(`127.0.0.1:${upstream.port}`) } });
    await until(() => upstream.requests.filter((r) => r.body.prompt === "[hang] stuck").length === 2);
    const resumed = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(resumed.attempts).toBe(1); // the handed-back attempt is not counted against the run
    await callerFor(db, f.users.EDITOR).run.transition({ runId: run.id, status: "CANCELLED" });
    await waitForRun(db, run.id);
  });
});
