// Node tokens and the node API (handleNodeApi, exactly what server/main.ts serves) on both databases;
// and routing completions to a real `hearth node` process over its socket (routeCompletion).
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { FileArtifactStore } from "@/server/storage";
import { handleNodeApi } from "@/server/node-registry/api";
import { serveNodeApi, upgradeNodeSocket } from "@/server/node-registry/http";
import type { InferenceHub } from "@/server/node-registry/hub";
import { startInferenceHub, stopInferenceHub } from "@/server/node-registry/inference";
import { routeCompletion } from "@/server/node-registry/inference";
import { listNodes } from "@/server/node-registry/service";
import { NoNodeAvailable } from "@/contracts/serving";
import { sha256Hex } from "@/server/auth/tokens";
import { callerFor, createOrgFixture, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { registration, startNodeProcess, tinyCheckpoint, TINY_SPEC, type NodeProcess } from "../support/nodes";
import { eventually } from "../support/collab";

function nodeRequest(method: string, path: string, o: { token?: string; nodeId?: string; json?: unknown; body?: BodyInit } = {}): Request {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.nodeId) headers["x-hearth-node"] = o.nodeId;
  if (o.json !== undefined) headers["content-type"] = "application/json";
  return new Request(`http://hearth.test/api/node/${path}`, { method, headers, body: o.json !== undefined ? JSON.stringify(o.json) : o.body, duplex: "half" } as RequestInit);
}

describe.each(TEST_DATABASE_KINDS)("node tokens and the node API on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-node-api-"));
  const store = new FileArtifactStore(root);
  const call = async (req: Request) => {
    const response = await handleNodeApi(db, req, { store });
    const type = response.headers.get("content-type") ?? "";
    return { status: response.status, body: type.includes("json") ? await response.json() : new Uint8Array(await response.arrayBuffer()) };
  };
  const register = async (token: string, name: string) => {
    const r = await call(nodeRequest("POST", "register", { token, json: registration(name) }));
    expect(r.status).toBe(201);
    return r.body.nodeId as string;
  };

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
  });
  afterAll(async () => {
    await close?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("shows a token's secret once, stores only its hash, and audits creation and revocation", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    const { token, secret } = await admin.node.createToken({ orgId: f.orgId, name: "rack 1" });
    expect(secret).toMatch(/^hnt_[0-9a-f]{12}_[A-Za-z0-9_-]{32}$/);
    const listed = await admin.node.tokens({ orgId: f.orgId });
    const row = listed.find((t) => t.id === token.id)!;
    expect(row).toMatchObject({ name: "rack 1", prefix: secret.slice(4, 16), revokedAt: null });
    expect(JSON.stringify(listed)).not.toContain(secret.slice(17));
    expect((await db.nodeToken.findUniqueOrThrow({ where: { id: token.id } })).secretHash).toBe(sha256Hex(secret));
    await admin.node.revokeToken({ orgId: f.orgId, tokenId: token.id });
    const actions = await db.auditLog.findMany({ where: { resourceId: token.id }, select: { action: true, actorId: true }, orderBy: { createdAt: "asc" } });
    expect(actions).toEqual([
      { action: "nodeToken.create", actorId: f.users.ADMIN.userId },
      { action: "nodeToken.revoke", actorId: f.users.ADMIN.userId },
    ]);
  });

  it("refuses missing, malformed, unknown and revoked tokens, and node ids of another token", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    expect(await call(nodeRequest("POST", "register", { json: registration("x") }))).toMatchObject({ status: 401, body: { error: { message: "Send the node token as 'Authorization: Bearer hnt_…'." } } });
    expect((await call(nodeRequest("POST", "register", { token: "hth_000000000000_abc", json: registration("x") }))).body.error.message).toContain("not a Hearth node token");
    expect((await call(nodeRequest("POST", "register", { token: `hnt_${"0".repeat(12)}_${"a".repeat(32)}`, json: registration("x") }))).body.error.message).toBe("Unknown node token.");
    const one = await admin.node.createToken({ orgId: f.orgId, name: "one" });
    const two = await admin.node.createToken({ orgId: f.orgId, name: "two" });
    const nodeId = await register(one.secret, "gpu-1");
    expect((await call(nodeRequest("POST", "heartbeat", { token: one.secret, nodeId, json: { runId: null, loadedModelVersionIds: [] } }))).status).toBe(200);
    expect((await call(nodeRequest("POST", "heartbeat", { token: two.secret, nodeId, json: { runId: null, loadedModelVersionIds: [] } }))).status).toBe(410);
    expect((await call(nodeRequest("POST", "register", { token: one.secret, json: { ...registration("y"), memoryBytes: -1 } }))).body.error.message).toContain("memoryBytes");
    await admin.node.revokeToken({ orgId: f.orgId, tokenId: one.token.id });
    const refused = await call(nodeRequest("POST", "lease", { token: one.secret, nodeId, json: {} }));
    expect(refused).toMatchObject({ status: 401, body: { error: { message: 'The node token "one" was revoked.' } } });
  });

  it("serves a leased training job's inputs, checkpoints and metrics only to the node that holds it", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    const { secret } = await admin.node.createToken({ orgId: f.orgId, name: "workers" });
    const [a, b] = [await register(secret, "a"), await register(secret, "b")];
    const dataset = await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: `corpus-${kind}`, kind: "CORPUS" });
    const corpus = "tiny corpus ".repeat(10);
    const sha = sha256Hex(corpus);
    const temp = path.join(root, "corpus.txt");
    fs.writeFileSync(temp, corpus);
    await store.putFile(temp, sha);
    const version = await db.datasetVersion.create({ data: { datasetId: dataset.id, version: 1, sha256: sha, bytes: BigInt(corpus.length), lines: 1, stats: {}, createdById: f.users.EDITOR.userId } });
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "PRETRAIN", target: "NODE", config: { ...TINY_SPEC, modelId: f.modelId }, datasetVersionId: version.id });

    const leased = await call(nodeRequest("POST", "lease", { token: secret, nodeId: a, json: { kinds: ["PRETRAIN"] } }));
    expect(leased.body.job).toMatchObject({ runId: run.id, kind: "PRETRAIN", datasetVersionId: version.id, checkpoint: null, attempt: 1 });
    expect((await call(nodeRequest("POST", "lease", { token: secret, nodeId: b, json: {} }))).body.job).toBeNull();

    expect(Buffer.from((await call(nodeRequest("GET", `runs/${run.id}/dataset`, { token: secret, nodeId: a }))).body).toString()).toBe(corpus);
    expect((await call(nodeRequest("GET", `runs/${run.id}/dataset`, { token: secret, nodeId: b }))).status).toBe(409);

    const points = [1, 2].map((step) => ({ name: "lr", step, value: 0.01 }));
    expect((await call(nodeRequest("POST", `runs/${run.id}/metrics`, { token: secret, nodeId: a, json: { points } }))).body).toEqual({ received: 2, stored: 2 });
    expect((await call(nodeRequest("POST", `runs/${run.id}/metrics`, { token: secret, nodeId: a, json: { points } }))).body).toEqual({ received: 2, stored: 0 });
    expect((await call(nodeRequest("POST", `runs/${run.id}/metrics`, { token: secret, nodeId: b, json: { points } }))).status).toBe(409);

    const state = new Uint8Array([1, 2, 3, 4, 5]);
    expect((await call(nodeRequest("PUT", `runs/${run.id}/checkpoints/2`, { token: secret, nodeId: a, body: state }))).status).toBe(201);
    expect((await call(nodeRequest("GET", `runs/${run.id}/checkpoints/2`, { token: secret, nodeId: a }))).body).toEqual(state);
    expect((await call(nodeRequest("PUT", `runs/${run.id}/checkpoints/4`, { token: secret, nodeId: b, body: state }))).status).toBe(409);

    // Handed to the other node, the job comes with the checkpoint to resume from.
    expect((await call(nodeRequest("POST", `runs/${run.id}/fail`, { token: secret, nodeId: a, json: { error: "device lost", retryable: true } }))).body).toEqual({ status: "QUEUED", error: "Attempt 1 of 3 failed: device lost" });
    const again = await call(nodeRequest("POST", "lease", { token: secret, nodeId: b, json: {} }));
    expect(again.body.job).toMatchObject({ runId: run.id, attempt: 2, checkpoint: { step: 2, sizeBytes: 5 } });

    // The node's heartbeat carries the job it works on (and renews its lease).
    expect((await call(nodeRequest("POST", "heartbeat", { token: secret, nodeId: b, json: { runId: run.id, loadedModelVersionIds: [] } }))).body).toEqual({ lease: { state: "held", reclaimed: false } });
    const nodes = await listNodes(db, f.orgId);
    expect(nodes.find((n) => n.id === b)).toMatchObject({ status: "busy", currentRun: { id: run.id, attempt: 2 } });
    expect(nodes.find((n) => n.id === a)).toMatchObject({ status: "online", currentRun: null });
  });

  it("runs eval jobs: cases for the holder, per-case results, completion with a summary", async () => {
    const admin = callerFor(db, f.users.ADMIN);
    const { secret } = await admin.node.createToken({ orgId: f.orgId, name: "eval" });
    const nodeId = await register(secret, "evaluator");
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", config: { maxTokens: 8 }, suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId });
    const job = (await call(nodeRequest("POST", "lease", { token: secret, nodeId, json: { kinds: ["EVAL"] } }))).body.job;
    expect(job).toMatchObject({ runId: run.id, kind: "EVAL", doneCaseIds: [] });
    const cases = await call(nodeRequest("GET", `runs/${run.id}/cases`, { token: secret, nodeId }));
    expect(cases.body.cases.map((c: { id: string }) => c.id)).toEqual(["refund-window"]);
    // The fixture's model version has no artifact.
    expect(await call(nodeRequest("GET", `runs/${run.id}/model`, { token: secret, nodeId }))).toMatchObject({ status: 404, body: { error: { message: "The run's model version has no stored artifact." } } });
    const result = { caseId: "refund-window", output: "No.", grades: [{ grader: "contains", score: 1, pass: true, reason: "found" }], score: 1, pass: true };
    expect((await call(nodeRequest("POST", `runs/${run.id}/results`, { token: secret, nodeId, json: { results: [result] } }))).body).toEqual({ received: 1, stored: 1 });
    expect((await call(nodeRequest("POST", `runs/${run.id}/complete`, { token: secret, nodeId, json: {} }))).status).toBe(200);
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after).toMatchObject({ status: "SUCCEEDED", leaseNodeId: null, summary: { cases: 1, graded: 1, passed: 1, passRate: 1 } });
    expect(await db.auditLog.findFirst({ where: { resourceId: run.id, action: "run.succeeded" }, select: { actorType: true, actorId: true } })).toEqual({ actorType: "NODE", actorId: nodeId });
  });
});

describe("routing completions to a GPU node process", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let server: http.Server;
  let hub: InferenceHub;
  let node: NodeProcess;
  let modelVersionId: string;
  let tokenId: string;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-node-serving-"));
  const store = new FileArtifactStore(root);

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase("postgres"));
    f = await createOrgFixture(db);
    // A tiny model with its tokenizer, stored as a model version's artifact.
    const bytes = tinyCheckpoint(3);
    const file = path.join(root, "model.safetensors");
    fs.writeFileSync(file, bytes);
    const digest = createHash("sha256").update(bytes).digest("hex");
    await store.putFile(file, digest);
    modelVersionId = (await db.modelVersion.create({ data: { modelId: f.modelId, version: 2, config: {}, artifactSha256: digest, sizeBytes: BigInt(bytes.length), createdById: f.users.OWNER.userId } })).id;

    hub = startInferenceHub(() => db);
    server = http.createServer((req, res) => void serveNodeApi(db, req, res, { store }));
    server.on("upgrade", (req, socket, head) => {
      if (!upgradeNodeSocket(hub, req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { token, secret } = await callerFor(db, f.users.ADMIN).node.createToken({ orgId: f.orgId, name: "serving" });
    tokenId = token.id;
    node = startNodeProcess({ serverUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: secret, name: "server-1" });
    await node.waitFor(/registered with/);
    await eventually(() => hub.connectedNodeIds().length === 1, "the node opens its inference socket", 30_000);
  });
  afterAll(async () => {
    await node?.kill("SIGKILL");
    await stopInferenceHub();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await close?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const request = (o: Partial<Parameters<typeof routeCompletion>[0]> = {}) => ({ modelVersionId, orgId: f.orgId, prompt: "the refund window", maxTokens: 12, temperature: 0, stop: [], ...o });

  it("loads the model on the node and streams its text back", async () => {
    const deltas: string[] = [];
    const result = await routeCompletion(request(), { onText: (d) => deltas.push(d) });
    expect(result).toMatchObject({ finishReason: "length", completionTokens: 12 });
    expect(result.promptTokens).toBeGreaterThan(0);
    expect(deltas.join("")).toBe(result.text);
    expect(node.output()).toContain(`loaded model version ${modelVersionId} for serving`);
    await eventually(async () => (await db.gpuNode.findFirstOrThrow({ where: { tokenId } })).loadedModelVersionIds.includes(modelVersionId), "the node reports the loaded model", 10_000);
  });

  it("honours stop strings, seeds and temperature", async () => {
    const greedy = await routeCompletion(request());
    expect(greedy.text.length).toBeGreaterThan(3);
    const stop = greedy.text.slice(2, 4);
    const stopped = await routeCompletion(request({ stop: [stop] }));
    expect(stopped).toMatchObject({ text: greedy.text.slice(0, greedy.text.indexOf(stop)), finishReason: "stop" });
    const sampled = request({ temperature: 1.2, topK: 50, seed: 7, maxTokens: 10 });
    expect((await routeCompletion(sampled)).text).toBe((await routeCompletion(sampled)).text);
  });

  it("says no node is available for an organization without one, and once the node's token is revoked", async () => {
    await expect(routeCompletion(request({ orgId: f.otherOrgId }))).rejects.toBeInstanceOf(NoNodeAvailable);
    await callerFor(db, f.users.ADMIN).node.revokeToken({ orgId: f.orgId, tokenId });
    await expect(routeCompletion(request())).rejects.toBeInstanceOf(NoNodeAvailable);
    expect(await node.exited).toBe(3);
  });
});
