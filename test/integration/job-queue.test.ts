// The node job queue in the Run table, on the embedded database and on PostgreSQL: leasing (oldest
// first, never twice, only what fits), renewal, cancel, expiry and retries up to maxAttempts, and
// exactly-once registration of a trained model.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { FileArtifactStore } from "@/server/storage";
import { failJob, jobsOtherEnginesRun, leaseNextJob, reapExpiredLeases, releaseCancelledJob, renewLease, NODE_JOB_KINDS } from "@/server/job-queue/queue";
import { createNodeToken } from "@/server/node-registry/tokens";
import { authenticateNode, registerNode } from "@/server/node-registry/service";
import { completeTrainingJob, storeRunArtifact, storeRunCheckpoint } from "@/server/job-queue/reports";
import { callerFor, createOrgFixture, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { registration, registerTestNode, tinyCheckpoint, TINY_SPEC } from "../support/nodes";

async function queueRun(f: OrgFixture, config: Record<string, unknown> = { ...TINY_SPEC, modelId: f.modelId }, kind: "PRETRAIN" | "EVAL" = "PRETRAIN") {
  const caller = callerFor(f.db, f.users.EDITOR);
  return caller.run.create({ projectId: f.projectId, kind, target: "NODE", config, ...(kind === "EVAL" ? { suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId } : {}) });
}

const capacity = (node: { memoryBytes: bigint | null }) => ({ memoryBytes: node.memoryBytes, kinds: NODE_JOB_KINDS });

describe.each(TEST_DATABASE_KINDS)("the node job queue on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-queue-artifacts-"));
  const store = new FileArtifactStore(root);

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
  });
  afterAll(async () => {
    await close?.();
    fs.rmSync(root, { recursive: true, force: true });
  });
  afterEach(() => {
    delete process.env.HEARTH_NODE_LEASE_SECONDS;
  });

  it("leases the oldest job first, each job to exactly one of many concurrent nodes", async () => {
    const f = await createOrgFixture(db);
    const runs = [];
    for (let i = 0; i < 6; i++) runs.push(await queueRun(f));
    const nodes = await Promise.all(Array.from({ length: 8 }, (_, i) => registerTestNode(db, f, `n${i}`)));
    const leased = await Promise.all(nodes.map((n) => leaseNextJob(db, n, capacity(n))));
    const got = leased.filter((j) => j !== null).map((j) => j!.runId);
    expect(got.sort()).toEqual(runs.map((r) => r.id).sort());
    expect(leased.filter((j) => j === null)).toHaveLength(2);
    const rows = await db.run.findMany({ where: { id: { in: got } }, select: { status: true, attempts: true, leaseNodeId: true, requiredMemory: true } });
    expect(new Set(rows.map((r) => r.leaseNodeId)).size).toBe(6);
    for (const r of rows) expect(r).toMatchObject({ status: "RUNNING", attempts: 1 });
    expect(rows[0].requiredMemory).toBeGreaterThan(0n);
    // Oldest first: a single node takes the next queued job in creation order.
    const [a, b] = [await queueRun(f), await queueRun(f)];
    const solo = await registerTestNode(db, f, "solo");
    expect((await leaseNextJob(db, solo, capacity(solo)))!.runId).toBe(a.id);
    expect(b.id).not.toBe(a.id);
  });

  it("hands a node only jobs of its organization that fit its memory", async () => {
    const f = await createOrgFixture(db);
    const g = await createOrgFixture(db);
    const run = await queueRun(f);
    const small = await registerTestNode(db, f, "small", 1024);
    const stranger = await registerTestNode(db, g, "stranger");
    expect(await leaseNextJob(db, small, capacity(small))).toBeNull();
    expect(await leaseNextJob(db, stranger, capacity(stranger))).toBeNull();
    const big = await registerTestNode(db, f, "big");
    const job = await leaseNextJob(db, big, capacity(big));
    expect(job).toMatchObject({ runId: run.id, kind: "PRETRAIN", attempt: 1, maxAttempts: 3, checkpoint: null });
    expect(job!.config).toMatchObject({ preset: "tiny", modelId: f.modelId });
  });

  it("routes by engine: a folder version's eval goes to torch (preferred by a node with both), a Hearth checkpoint's to webgpu only, and a run keeps its engine", async () => {
    const f = await createOrgFixture(db);
    const folder = await db.modelVersion.create({ data: { modelId: f.modelId, version: 2, config: { format: "hf-folder" }, sizeBytes: 4096n, createdById: f.users.EDITOR.userId }, select: { id: true } });
    await db.modelVersionFile.create({ data: { modelVersionId: folder.id, path: "config.json", sha256: "c".repeat(64), sizeBytes: 100n } });
    const checkpointVersion = await db.modelVersion.update({ where: { id: f.modelVersionId }, data: { artifactSha256: "a".repeat(64), sizeBytes: 4096n } });
    const evalOf = (modelVersionId: string) => callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", config: { maxTokens: 8 }, suiteVersionId: f.suiteVersionId, modelVersionId });
    const onCheckpoint = await evalOf(checkpointVersion.id);
    const onFolder = await evalOf(folder.id);
    const torchOnly = await registerTestNode(db, f, "torch-only");
    expect(await leaseNextJob(db, torchOnly, { ...capacity(torchOnly), engines: ["torch"] })).toMatchObject({ runId: onFolder.id, kind: "EVAL", engine: "torch" });
    expect(await leaseNextJob(db, torchOnly, { ...capacity(torchOnly), engines: ["torch"] })).toBeNull();
    const webgpuOnly = await registerTestNode(db, f, "webgpu-only");
    expect(await leaseNextJob(db, webgpuOnly, { ...capacity(webgpuOnly), engines: ["webgpu"] })).toMatchObject({ runId: onCheckpoint.id, engine: "webgpu" });
    const both = await registerTestNode(db, f, "both");
    const next = await evalOf(folder.id);
    expect(await leaseNextJob(db, both, { ...capacity(both), engines: ["torch", "webgpu"] })).toMatchObject({ runId: next.id, engine: "torch" });
    // A retried attempt goes back to the engine it started on: a webgpu-only node does not take it.
    await failJob(db, both, next.id, "the node went away", true);
    expect(await leaseNextJob(db, webgpuOnly, { ...capacity(webgpuOnly), engines: ["webgpu"] })).toBeNull();
    expect(await leaseNextJob(db, torchOnly, { ...capacity(torchOnly), engines: ["torch"] })).toMatchObject({ runId: next.id, engine: "torch", attempt: 2 });
  });

  it("leases a job on several GPUs only to a torch node with that many, and says on the run why it waits", async () => {
    const f = await createOrgFixture(db);
    const caller = callerFor(db, f.users.EDITOR);
    // pre-training a known shape from scratch: torch runs it (and only torch runs it on several GPUs)
    const wide = await queueRun(f, { kind: "PRETRAIN", architecture: "llama-tiny", steps: 2, batchSize: 4, seqLen: 16, lr: 0.01, checkpointEvery: 2, gpus: 4, modelId: f.modelId });
    expect((await caller.run.get({ runId: wide.id })).waiting).toBeNull(); // no node online: the page's live warning says that
    const webgpu = await registerTestNode(db, f, "webgpu");
    const { secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, "torch token");
    const { nodeId } = await registerNode(db, `Bearer ${secret}`, { ...registration("torch-2"), engines: [{ engine: "torch", available: true, gpus: [], ranks: 2 }] });
    const torch = await authenticateNode(db, new Headers({ authorization: `Bearer ${secret}`, "x-hearth-node": nodeId }));
    expect(await leaseNextJob(db, webgpu, { ...capacity(webgpu), engines: ["webgpu"] })).toBeNull();
    expect(await leaseNextJob(db, torch, { ...capacity(webgpu), engines: ["torch"], ranks: 2 })).toBeNull();
    expect((await caller.run.get({ runId: wide.id })).waiting).toBe("It asks for 4 GPUs on one node; the most any online node offers is 2. It stays queued until a node with 4 (torch engine) connects, or cancel it and ask for fewer.");
    expect(await jobsOtherEnginesRun(db, torch, ["torch"], 2)).toMatch(/1 queued job asks for up to 4 GPUs on one node; this node runs 2 processes/);
    expect(await leaseNextJob(db, torch, { ...capacity(webgpu), engines: ["torch"], ranks: 4 })).toMatchObject({ runId: wide.id, engine: "torch" });
  });

  describe("jobs on several nodes (gang leases)", () => {
    const GANG = { kind: "PRETRAIN", architecture: "llama-tiny", steps: 2, batchSize: 2, seqLen: 16, lr: 0.01, checkpointEvery: 2, nodes: 2 };
    /** A torch node (1 process) under a token of its own; with a rendezvous address unless null. */
    async function torchNode(f: OrgFixture, name: string, rendezvousAddress: string | null) {
      const { secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, `${name} token`);
      const { nodeId } = await registerNode(db, `Bearer ${secret}`, { ...registration(name), engines: [{ engine: "torch", available: true, gpus: [], ranks: 1 }], rendezvousAddress });
      return authenticateNode(db, new Headers({ authorization: `Bearer ${secret}`, "x-hearth-node": nodeId }));
    }
    const torchCapacity = (node: { memoryBytes: bigint | null }) => ({ ...capacity(node), engines: ["torch" as const], ranks: 1 });

    it("leases a 2-node job to two idle nodes at once: the poller is rank 0 and the rendezvous host, the other picks its part up at its next poll", async () => {
      const f = await createOrgFixture(db);
      const run = await queueRun(f, { ...GANG, modelId: f.modelId });
      const a = await torchNode(f, "a", "10.0.0.1");
      const b = await torchNode(f, "b", "10.0.0.2");
      const first = await leaseNextJob(db, a, torchCapacity(a));
      expect(first).toMatchObject({ runId: run.id, engine: "torch", attempt: 1, gang: { nodes: 2, nodeRank: 0, address: "10.0.0.1", port: expect.any(Number) } });
      expect(first!.gang!.port).toBeGreaterThanOrEqual(29500);
      expect(first!.gang!.port).toBeLessThanOrEqual(29599);
      expect(await db.runLease.findMany({ where: { runId: run.id }, orderBy: { nodeRank: "asc" }, select: { nodeId: true, nodeRank: true } })).toEqual([
        { nodeId: a.nodeId, nodeRank: 0 },
        { nodeId: b.nodeId, nodeRank: 1 },
      ]);
      // b is in the gang: a job of its own it does not lease, and its poll hands it its part
      const single = await queueRun(f, { kind: "PRETRAIN", architecture: "llama-tiny", steps: 2, batchSize: 2, seqLen: 16, lr: 0.01, checkpointEvery: 2, modelId: f.modelId });
      expect(await leaseNextJob(db, b, torchCapacity(b))).toMatchObject({ runId: run.id, attempt: 1, gang: { nodes: 2, nodeRank: 1, address: "10.0.0.1", port: first!.gang!.port } });
      expect(await leaseNextJob(db, b, torchCapacity(b))).toBeNull();
      expect(await renewLease(db, b, run.id)).toEqual({ state: "held", reclaimed: false });
      expect(await renewLease(db, a, run.id)).toEqual({ state: "held", reclaimed: false });
      expect((await db.run.findUniqueOrThrow({ where: { id: single.id }, select: { status: true } })).status).toBe("QUEUED");
      // every process of every node takes an equal share of the batch
      const odd = await queueRun(f, { ...GANG, batchSize: 3, modelId: f.modelId });
      expect(await leaseNextJob(db, a, torchCapacity(a))).toBeNull();
      expect(await db.run.findUniqueOrThrow({ where: { id: odd.id }, select: { status: true, error: true } })).toEqual({
        status: "FAILED",
        error: "Invalid training config: batchSize 3 must be a multiple of nodes x gpus (2): each process takes an equal share of every batch",
      });
    });

    it("never forms a gang with a node that has no rendezvous address, and the run page says how many suitable nodes are online", async () => {
      const f = await createOrgFixture(db);
      const run = await queueRun(f, { ...GANG, modelId: f.modelId });
      const a = await torchNode(f, "a", "10.0.0.1");
      const plain = await torchNode(f, "plain", null);
      expect(await leaseNextJob(db, a, torchCapacity(a))).toBeNull();
      expect(await leaseNextJob(db, plain, torchCapacity(plain))).toBeNull();
      expect(await jobsOtherEnginesRun(db, plain, ["torch"], 1)).toBe("1 queued job runs on several nodes; this node takes no part in such jobs (start it with --rendezvous-address, see the README).");
      expect(await jobsOtherEnginesRun(db, a, ["torch"], 1)).toBeNull();
      const page = await callerFor(db, f.users.EDITOR).run.get({ runId: run.id });
      expect(page.status).toBe("QUEUED");
      expect(page.waiting).toBe("It asks for 2 nodes with 1 GPU each; 1 suitable node online (torch engine, 1 GPU each, started with --rendezvous-address). It stays queued until 2 such nodes are online and idle, or cancel it and ask for fewer.");
      // a node that is busy with a job of its own is not a peer either
      const b = await torchNode(f, "b", "10.0.0.2");
      const busy = await queueRun(f, { ...GANG, nodes: 1, modelId: f.modelId });
      await db.run.update({ where: { id: run.id }, data: { createdAt: new Date(Date.now() + 60_000) } }); // the one-node job is now the oldest
      expect(await leaseNextJob(db, b, torchCapacity(b))).toMatchObject({ runId: busy.id });
      expect(await leaseNextJob(db, a, torchCapacity(a))).toBeNull();
      expect(await db.runLease.count({ where: { runId: run.id } })).toBe(0);
    });

    it("a failure on any node ends the attempt of the whole gang: every node is told it lost the job, none takes it back alone, the next gang starts attempt 2", async () => {
      const f = await createOrgFixture(db);
      const run = await queueRun(f, { ...GANG, modelId: f.modelId });
      const a = await torchNode(f, "a", "10.0.0.1");
      const b = await torchNode(f, "b", "10.0.0.2");
      await leaseNextJob(db, a, torchCapacity(a));
      await leaseNextJob(db, b, torchCapacity(b));
      expect(await failJob(db, b, run.id, "The torch process was killed by SIGKILL before it finished.", true)).toMatchObject({ status: "QUEUED" });
      const after = await db.run.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, error: true, leaseNodeId: true } });
      expect(after).toMatchObject({ status: "QUEUED", leaseNodeId: null, error: expect.stringMatching(/^Attempt 1 of 3 failed: node rank 1 \(node "b" .*\): The torch process was killed by SIGKILL/) });
      expect(await db.runLease.count({ where: { runId: run.id } })).toBe(0);
      for (const node of [a, b]) expect(await renewLease(db, node, run.id)).toMatchObject({ state: "lost", message: expect.stringMatching(/ended \(a node of its gang failed or stopped\)/) });
      expect((await db.run.findUniqueOrThrow({ where: { id: run.id }, select: { status: true } })).status).toBe("QUEUED");
      await expect(failJob(db, b, run.id, "late", true)).rejects.toThrow(/does not hold the job/);
      const again = await leaseNextJob(db, b, torchCapacity(b));
      expect(again).toMatchObject({ runId: run.id, attempt: 2, gang: { nodeRank: 0, address: "10.0.0.2" } });
    });

    it("a cancel reaches every node of the gang; rank 0 frees it and the run ends CANCELLED", async () => {
      const f = await createOrgFixture(db);
      const run = await queueRun(f, { ...GANG, modelId: f.modelId });
      const a = await torchNode(f, "a", "10.0.0.1");
      const b = await torchNode(f, "b", "10.0.0.2");
      await leaseNextJob(db, a, torchCapacity(a));
      await leaseNextJob(db, b, torchCapacity(b));
      await callerFor(db, f.users.EDITOR).run.transition({ runId: run.id, status: "CANCELLED" });
      for (const node of [a, b]) expect(await renewLease(db, node, run.id)).toMatchObject({ state: "cancelled" });
      expect(await releaseCancelledJob(db, b, run.id)).toEqual({ status: null });
      expect(await releaseCancelledJob(db, a, run.id)).toEqual({ status: "CANCELLED" });
      expect(await db.runLease.count({ where: { runId: run.id } })).toBe(0);
      expect((await db.run.findUniqueOrThrow({ where: { id: run.id }, select: { status: true } })).status).toBe("CANCELLED");
      // both are free for the next job, even when rank 0 never came back to free the gang
      const next = await queueRun(f, { ...GANG, modelId: f.modelId });
      expect(await leaseNextJob(db, b, torchCapacity(b))).toMatchObject({ runId: next.id, gang: { nodeRank: 0 } });
      await callerFor(db, f.users.EDITOR).run.transition({ runId: next.id, status: "CANCELLED" });
      const third = await queueRun(f, { ...GANG, modelId: f.modelId });
      expect(await leaseNextJob(db, a, torchCapacity(a))).toMatchObject({ runId: third.id, gang: { nodeRank: 0 } });
    });

    it("a node of the gang that stops renewing its part fails the attempt at the sweep", async () => {
      process.env.HEARTH_NODE_LEASE_SECONDS = "1";
      const f = await createOrgFixture(db);
      const run = await queueRun(f, { ...GANG, modelId: f.modelId });
      const a = await torchNode(f, "a", "10.0.0.1");
      const b = await torchNode(f, "b", "10.0.0.2");
      await leaseNextJob(db, a, torchCapacity(a));
      await leaseNextJob(db, b, torchCapacity(b));
      await new Promise((resolve) => setTimeout(resolve, 1300));
      expect(await renewLease(db, a, run.id)).toEqual({ state: "held", reclaimed: false }); // rank 0 is alive; b went silent
      const swept = await reapExpiredLeases(db);
      expect(swept).toContainEqual({ runId: run.id, status: "QUEUED" });
      const after = await db.run.findUniqueOrThrow({ where: { id: run.id }, select: { status: true, error: true } });
      expect(after.error).toMatch(/^Attempt 1 of 3 failed: node rank 1 of the gang stopped renewing its part/);
      expect(await renewLease(db, a, run.id)).toMatchObject({ state: "lost" });
    });
  });

  it("fails a run whose training config cannot be valid instead of leasing it", async () => {
    const f = await createOrgFixture(db);
    const run = await queueRun(f, { preset: "enormous", steps: 0, modelId: f.modelId });
    const node = await registerTestNode(db, f, "n");
    expect(await leaseNextJob(db, node, capacity(node))).toBeNull();
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after.status).toBe("FAILED");
    expect(after.error).toContain("Invalid training config: preset must be one of");
  });

  it("renews a held lease, reports a cancel, and tells a node that lost the job", async () => {
    const f = await createOrgFixture(db);
    const [one, two] = [await queueRun(f), await queueRun(f)];
    const a = await registerTestNode(db, f, "a");
    const b = await registerTestNode(db, f, "b");
    const ja = (await leaseNextJob(db, a, capacity(a)))!;
    const jb = (await leaseNextJob(db, b, capacity(b)))!;
    expect([ja.runId, jb.runId]).toEqual([one.id, two.id]);
    const before = (await db.run.findUniqueOrThrow({ where: { id: one.id } })).leaseExpiresAt!;
    await new Promise((r) => setTimeout(r, 20));
    expect(await renewLease(db, a, one.id)).toEqual({ state: "held", reclaimed: false });
    expect((await db.run.findUniqueOrThrow({ where: { id: one.id } })).leaseExpiresAt!.getTime()).toBeGreaterThan(before.getTime());
    expect((await renewLease(db, a, two.id)).state).toBe("lost");
    await callerFor(db, f.users.EDITOR).run.transition({ runId: one.id, status: "CANCELLED" });
    expect(await renewLease(db, a, one.id)).toEqual({ state: "cancelled", message: "The run was cancelled." });
  });

  it("returns a job whose lease expired to the queue, and fails it with the last error after maxAttempts", async () => {
    const f = await createOrgFixture(db);
    const run = await queueRun(f);
    const node = await registerTestNode(db, f, "flaky");
    process.env.HEARTH_NODE_LEASE_SECONDS = "1";
    for (let attempt = 1; attempt <= 3; attempt++) {
      const job = await leaseNextJob(db, node, capacity(node));
      expect(job).toMatchObject({ runId: run.id, attempt });
      expect(await reapExpiredLeases(db)).not.toContainEqual(expect.objectContaining({ runId: run.id }));
      await new Promise((r) => setTimeout(r, 1100));
      const reaped = await reapExpiredLeases(db);
      expect(reaped).toContainEqual({ runId: run.id, status: attempt < 3 ? "QUEUED" : "FAILED" });
    }
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after).toMatchObject({ status: "FAILED", attempts: 3, leaseNodeId: null });
    expect(after.error).toBe("Gave up after 3 attempts. Last error: the node stopped renewing its lease (no heartbeat for 1 s).");
    const audit = await db.auditLog.findMany({ where: { resourceId: run.id, action: "run.leaseExpired" }, select: { actorType: true } });
    expect(audit.map((a) => a.actorType)).toEqual(["SYSTEM", "SYSTEM", "SYSTEM"]);
    expect(await leaseNextJob(db, node, capacity(node))).toBeNull();
  });

  it("lets a node that was out of touch take its swept job back when nobody else has", async () => {
    const f = await createOrgFixture(db);
    const run = await queueRun(f);
    const node = await registerTestNode(db, f, "wanderer");
    process.env.HEARTH_NODE_LEASE_SECONDS = "1";
    await leaseNextJob(db, node, capacity(node));
    await new Promise((r) => setTimeout(r, 1100));
    await reapExpiredLeases(db);
    expect((await db.run.findUniqueOrThrow({ where: { id: run.id } })).status).toBe("QUEUED");
    // The reclaim is attempt 2, and the node is told so (its reports carry the attempt).
    expect(await renewLease(db, node, run.id)).toEqual({ state: "held", reclaimed: true, attempt: 2 });
    expect(await db.run.findUniqueOrThrow({ where: { id: run.id } })).toMatchObject({ status: "RUNNING", leaseNodeId: node.nodeId, attempts: 2 });
  });

  it("retries a failed attempt on another node and fails at once when the error cannot be retried", async () => {
    const f = await createOrgFixture(db);
    const [one, two] = [await queueRun(f), await queueRun(f)];
    const node = await registerTestNode(db, f, "n");
    await leaseNextJob(db, node, capacity(node));
    expect(await failJob(db, node, one.id, "GPU device lost", true)).toEqual({ status: "QUEUED", error: "Attempt 1 of 3 failed: GPU device lost" });
    expect((await leaseNextJob(db, node, capacity(node)))!.runId).toBe(one.id);
    expect(await failJob(db, node, one.id, "dataset line 2: not valid JSON", false)).toEqual({ status: "FAILED", error: "dataset line 2: not valid JSON" });
    await expect(failJob(db, node, one.id, "again", true)).rejects.toThrow("does not hold the job");
    expect((await leaseNextJob(db, node, capacity(node)))!.runId).toBe(two.id);
  });

  it("registers the trained model version exactly once, however many times completion is sent", async () => {
    const f = await createOrgFixture(db);
    const run = await queueRun(f);
    const node = await registerTestNode(db, f, "trainer");
    await leaseNextJob(db, node, capacity(node));
    const checkpoint = await storeRunCheckpoint(db, node, run.id, 2, Readable.from([Buffer.from("state at step 2")]), { store });
    expect(checkpoint).toMatchObject({ step: 2, sizeBytes: 15 });
    // Re-sending the same checkpoint (a retried upload) is harmless.
    await storeRunCheckpoint(db, node, run.id, 2, Readable.from([Buffer.from("state at step 2")]), { store });
    await expect(storeRunArtifact(db, node, run.id, Readable.from([Buffer.from("not a model")]), { store })).rejects.toThrow("The checkpoint was not stored");
    const artifact = await storeRunArtifact(db, node, run.id, Readable.from([Buffer.from(tinyCheckpoint())]), { store });
    const completion = { artifactSha256: artifact.sha256, sizeBytes: artifact.sizeBytes, modelConfig: { nLayer: 2 }, summary: { steps: 4 } };
    const results = await Promise.allSettled([1, 2, 3].map(() => completeTrainingJob(db, node, run.id, completion, { store })));
    const versions = await db.modelVersion.findMany({ where: { runId: run.id } });
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ modelId: f.modelId, artifactSha256: artifact.sha256, createdById: f.users.EDITOR.userId });
    expect(results.map((r) => (r.status === "fulfilled" ? r.value.modelVersionId : String(r.reason)))).toEqual([versions[0].id, versions[0].id, versions[0].id]);
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after).toMatchObject({ status: "SUCCEEDED", leaseNodeId: null, summary: { steps: 4, modelVersionId: versions[0].id } });
    // The model version holds what the run produced: its training states are gone, rows and files.
    expect(await db.runCheckpoint.count({ where: { runId: run.id } })).toBe(0);
    expect(await store.has(checkpoint.sha256)).toBe(false);
    expect(await store.has(artifact.sha256)).toBe(true);
    // A completion re-sent after its answer was lost (the run is already finished) prunes too: here a
    // checkpoint row a racing request left behind.
    await db.runCheckpoint.create({ data: { runId: run.id, step: 3, sha256: checkpoint.sha256, sizeBytes: 15n, nodeId: node.nodeId } });
    expect(await completeTrainingJob(db, node, run.id, completion, { store })).toEqual({ modelVersionId: versions[0].id });
    expect(await db.runCheckpoint.count({ where: { runId: run.id } })).toBe(0);
    const audit = await db.auditLog.findFirst({ where: { resourceId: versions[0].id, action: "model.createVersion" } });
    expect(audit).toMatchObject({ actorType: "NODE", actorId: node.nodeId });
  });

  it("keeps a training run's newest two checkpoints, and a file another run still refers to", async () => {
    const f = await createOrgFixture(db);
    const [run, other] = [await queueRun(f), await queueRun(f)];
    const node = await registerTestNode(db, f, "keeper");
    const otherNode = await registerTestNode(db, f, "other");
    await leaseNextJob(db, node, capacity(node));
    await leaseNextJob(db, otherNode, capacity(otherNode));
    const held = new Set((await db.run.findMany({ where: { id: { in: [run.id, other.id] } }, select: { id: true, leaseNodeId: true } })).map((r) => `${r.id}:${r.leaseNodeId}`));
    const [mine, theirs] = held.has(`${run.id}:${node.nodeId}`) ? [run, other] : [other, run];
    const shared = await storeRunCheckpoint(db, otherNode, theirs.id, 1, Readable.from([Buffer.from(`same bytes ${theirs.id}`)]), { store });
    const stored = [];
    for (let step = 1; step <= 4; step++) {
      const bytes = step === 1 ? `same bytes ${theirs.id}` : `state of ${mine.id} at step ${step}`;
      stored.push(await storeRunCheckpoint(db, node, mine.id, step, Readable.from([Buffer.from(bytes)]), { store }));
    }
    expect((await db.runCheckpoint.findMany({ where: { runId: mine.id }, orderBy: { step: "asc" } })).map((c) => c.step)).toEqual([3, 4]);
    expect(await store.has(stored[1].sha256)).toBe(false);
    expect(await store.has(stored[2].sha256)).toBe(true);
    expect(await store.has(stored[3].sha256)).toBe(true);
    // Step 1 had the same content as the other run's checkpoint: its file stays for that run.
    expect(stored[0].sha256).toBe(shared.sha256);
    expect(await store.has(shared.sha256)).toBe(true);
    expect(await db.runCheckpoint.count({ where: { runId: theirs.id } })).toBe(1);
  });
});
