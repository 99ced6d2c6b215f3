// Model artifacts: checkpoints are checked and stored content-addressed, registered as model versions
// with lineage (once per run), uploaded and downloaded over HTTP with the same access rules as the API.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import { TRPCError } from "@trpc/server";
import { createSession } from "@/server/auth/sessions";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { createApiKey } from "@/server/apikeys/service";
import { createNodeToken } from "@/server/node-registry/tokens";
import { authenticateNode, registerNode } from "@/server/node-registry/service";
import { getArtifactStore } from "@/server/storage";
import { createModelVersionWithArtifact, describeCheckpoint, storeModelArtifact } from "@/server/models/artifacts";
import { CHECKPOINT_FORMAT, TRAINING_STATE_FORMAT } from "@/gpu/io/checkpoint";
import { encodeSafetensors, type TensorToWrite } from "@/gpu/io/safetensors";
import { gptPreset, initParameters, parameterCount, parameterShapes, type GPTConfig } from "@/gpu/nn/config";
import { trainBpe } from "@/gpu/tokenizer";
import { POST as uploadRoute } from "@/app/api/models/[modelId]/versions/route";
import { GET as downloadRoute } from "@/app/api/model-versions/[modelVersionId]/artifact/route";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { refusal } from "../support/refusal";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-model-artifacts-"));
process.env.NEXTAUTH_SECRET = "model-artifacts-test-secret";

const CORPUS = "the refund window is thirty days. the shipping window is five days.\n".repeat(20);
const CONFIG: GPTConfig = gptPreset("tiny", { vocabSize: 300 });
const tokenizer = trainBpe(CORPUS, 280);
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A checkpoint in the layout saveGPT writes (seeded weights, config and tokenizer in the metadata). */
function checkpoint(o: { config?: GPTConfig; seed?: number; drop?: string; metadata?: Record<string, string> } = {}): Uint8Array {
  const config = o.config ?? CONFIG;
  const weights = initParameters(config, o.seed ?? 1);
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, shape] of parameterShapes(config)) if (name !== o.drop) tensors.set(name, { shape, data: weights.get(name)! });
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, config: JSON.stringify(config), tokenizer: JSON.stringify(tokenizer.toJSON()), preset: "tiny", ...o.metadata });
}

describe.each(TEST_DATABASE_KINDS)("model artifacts on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let datasetVersionId: string;

  beforeAll(async () => {
    const opened = await openTestDatabase(kind);
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    const corpus = await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("corpus"), kind: "CORPUS" });
    datasetVersionId = (await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, corpus.id, Readable.from([CORPUS]))).id;
  });
  afterAll(async () => close?.());

  async function trainingRun(o: { kind?: "PRETRAIN" | "SFT" | "EVAL"; modelId?: string; status?: "RUNNING" | "FAILED" } = {}) {
    const editor = callerFor(db, f.users.EDITOR);
    const run = await editor.run.create({
      projectId: f.projectId,
      kind: o.kind ?? "SFT",
      target: "BROWSER",
      config: { kind: o.kind ?? "SFT", preset: "tiny", steps: 5, modelId: o.modelId ?? f.modelId },
      datasetVersionId,
      modelVersionId: f.modelVersionId,
      ...(o.kind === "EVAL" ? { suiteVersionId: f.suiteVersionId } : {}),
    });
    await editor.run.transition({ runId: run.id, status: "RUNNING" });
    if (o.status === "FAILED") await editor.run.transition({ runId: run.id, status: "FAILED", error: "test" });
    return run.id;
  }

  it("describes a Hearth checkpoint by its config, parameters and tokenizer", () => {
    const d = describeCheckpoint(checkpoint());
    expect(d).toMatchObject({ config: CONFIG, parameters: parameterCount(CONFIG), tokenizerVocab: tokenizer.vocabSize, lora: false, trainingState: false, metadata: { preset: "tiny" } });
  });

  it("stores a checkpoint content-addressed and refuses truncated, foreign, incomplete and oversized files, storing nothing", async () => {
    const bytes = checkpoint({ seed: 2 });
    const stored = await storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(bytes.subarray(0, 1000)), Buffer.from(bytes.subarray(1000))]));
    expect(stored).toMatchObject({ sha256: sha256(bytes), sizeBytes: bytes.length, config: CONFIG });
    const chunks: Buffer[] = [];
    for await (const chunk of await getArtifactStore().open(stored.sha256)) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(bytes));

    const cases: Array<[string, Uint8Array, string]> = [
      ["truncated", bytes.subarray(0, bytes.length - 100), "truncated"],
      ["a header cut short", bytes.subarray(0, 50), "truncated or not a safetensors file"],
      ["text", new TextEncoder().encode('{"prompt": "not a checkpoint"}\n'), "safetensors"],
      ["without the Hearth format tag", checkpoint({ seed: 3, metadata: { format: "other/1" } }), "not a Hearth GPT checkpoint"],
      ["missing a tensor", checkpoint({ seed: 4, drop: "h.1.mlp.c_fc.weight" }), 'missing tensor "h.1.mlp.c_fc.weight"'],
      ["a training state", checkpoint({ seed: 12, metadata: { state: TRAINING_STATE_FORMAT, step: "4" } }), "it is a training state"],
      ["with a tokenizer larger than the model", checkpoint({ seed: 5, config: gptPreset("tiny", { vocabSize: 260 }) }), "the tokenizer has"],
    ];
    for (const [, file, message] of cases) {
      const text = await refusal(storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(file)])));
      expect(text).toContain("The checkpoint was not stored");
      expect(text).toContain(message);
      expect(await getArtifactStore().has(sha256(file))).toBe(false);
    }
    const big = checkpoint({ seed: 6 });
    expect(await refusal(storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(big)]), { maxBytes: 1024 }))).toContain("larger than the limit of 1024 bytes");
    expect(await getArtifactStore().has(sha256(big))).toBe(false);
  });

  it("registers a run's checkpoint once, with the run's lineage and training spec, even when two uploads race", async () => {
    const runId = await trainingRun();
    const artifact = await storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(checkpoint({ seed: 7 }))]));
    const input = { config: { architecture: artifact.config }, runId, sha256: artifact.sha256, sizeBytes: artifact.sizeBytes };
    const [a, b] = await Promise.all([
      createModelVersionWithArtifact(db, f.users.EDITOR, f.orgId, f.modelId, input),
      createModelVersionWithArtifact(db, f.users.EDITOR, f.orgId, f.modelId, input),
    ]);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(a.version.id).toBe(b.version.id);
    expect(a.version).toMatchObject({ runId, datasetVersionId, parentId: f.modelVersionId, artifactSha256: artifact.sha256, sizeBytes: artifact.sizeBytes });
    expect(a.version.config).toMatchObject({ architecture: CONFIG, training: { kind: "SFT", preset: "tiny", steps: 5, modelId: f.modelId } });
    expect(await db.modelVersion.count({ where: { runId } })).toBe(1);
    const again = await createModelVersionWithArtifact(db, f.users.EDITOR, f.orgId, f.modelId, input);
    expect(again).toMatchObject({ created: false, version: { id: a.version.id } });
  });

  it("lets a GPU node register a run's version on behalf of the person who launched the run", async () => {
    const { secret } = await createNodeToken(db, f.users.OWNER, f.orgId, unique("node"));
    const authorization = `Bearer ${secret}`;
    const { nodeId } = await registerNode(db, authorization, { name: "gpu-1", adapter: { vendor: "test", architecture: "", device: "", description: "" }, features: [], limits: {}, memoryBytes: null, version: "test" });
    const node = await authenticateNode(db, new Headers({ authorization, "x-hearth-node": nodeId }));
    const runId = await trainingRun();
    const artifact = await storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(checkpoint({ seed: 13 }))]));
    const { version, created } = await createModelVersionWithArtifact(db, node, f.orgId, f.modelId, { config: {}, runId, sha256: artifact.sha256, sizeBytes: artifact.sizeBytes });
    expect(created).toBe(true);
    expect(version).toMatchObject({ runId, createdById: f.users.EDITOR.userId, datasetVersionId, parentId: f.modelVersionId });
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "model.createVersion", resourceId: version.id } });
    expect(audit).toMatchObject({ actorType: "NODE", actorId: nodeId });
  });

  it("refuses eval runs, failed runs, runs of another model, contradicting lineage and artifacts not stored", async () => {
    const artifact = await storeModelArtifact({ db, orgId: f.orgId }, Readable.from([Buffer.from(checkpoint({ seed: 8 }))]));
    const base = { config: {}, sha256: artifact.sha256, sizeBytes: artifact.sizeBytes };
    const create = (extra: Record<string, string>, modelId = f.modelId) => createModelVersionWithArtifact(db, f.users.EDITOR, f.orgId, modelId, { ...base, ...extra });
    expect(await refusal(create({ runId: await trainingRun({ kind: "EVAL" }) }))).toContain("only training runs do");
    expect(await refusal(create({ runId: await trainingRun({ status: "FAILED" }) }))).toContain("The run is FAILED");
    const other = await callerFor(db, f.users.EDITOR).model.create({ projectId: f.projectId, name: unique("other") });
    expect(await refusal(create({ runId: await trainingRun({ modelId: other.id }) }))).toContain("trains another model");
    const runId = await trainingRun();
    expect(await refusal(create({ runId, parentVersionId: (await db.modelVersion.create({ data: { modelId: f.modelId, version: 99, config: {}, createdById: f.users.OWNER.userId } })).id }))).toContain("parentVersionId differs");
    expect(await refusal(create({ runId: "no-such-run" }))).toBe("Run not found.");
    expect(await refusal(createModelVersionWithArtifact(db, f.users.EDITOR, f.orgId, f.modelId, { ...base, sha256: "a".repeat(64) }))).toContain("not in the artifact store");
    expect(await db.modelVersion.count({ where: { runId } })).toBe(0);
  });

  describe("over HTTP", () => {
    async function cookieOf(userId: string) {
      return { cookie: `next-auth.session-token=${await encode({ token: { uid: userId, sid: await createSession(db, userId) }, secret: process.env.NEXTAUTH_SECRET! })}` };
    }
    async function upload(headers: Record<string, string>, body: Uint8Array, query = "", modelId = f.modelId) {
      const req = new Request(`http://localhost/api/models/${modelId}/versions${query}`, { method: "POST", headers, body: Buffer.from(body) });
      return uploadRoute(req, { params: Promise.resolve({ modelId }) });
    }
    async function download(headers: Record<string, string>, modelVersionId: string) {
      return downloadRoute(new Request(`http://localhost/api/model-versions/${modelVersionId}/artifact`, { headers }), { params: Promise.resolve({ modelVersionId }) });
    }
    const bearer = async (scopes: Parameters<typeof createApiKey>[2]["scopes"]) => ({ authorization: `Bearer ${(await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("k"), scopes })).secret}` });

    it("uploads as an EDITOR with lineage, answers a repeat for the same run with the same version, and downloads the same bytes", async () => {
      const runId = await trainingRun();
      const bytes = checkpoint({ seed: 9 });
      const editor = await cookieOf(f.users.EDITOR.userId);
      const first = await upload(editor, bytes, `?runId=${runId}&datasetVersionId=${datasetVersionId}`);
      expect(first.status).toBe(201);
      const version = await first.json();
      expect(version).toMatchObject({ modelId: f.modelId, runId, datasetVersionId, parentId: f.modelVersionId, artifactSha256: sha256(bytes), sizeBytes: bytes.length });
      const repeat = await upload(editor, bytes, `?runId=${runId}`);
      expect(repeat.status).toBe(200);
      expect((await repeat.json()).id).toBe(version.id);

      const got = await download(await cookieOf(f.users.VIEWER.userId), version.id);
      expect(got.status).toBe(200);
      expect(got.headers.get("x-content-sha256")).toBe(sha256(bytes));
      expect(got.headers.get("content-disposition")).toMatch(/-v\d+\.safetensors"$/);
      expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(bytes));
    });

    it("refuses a malformed file with 400 and a clear message, and stores no version", async () => {
      const before = await db.modelVersion.count({ where: { modelId: f.modelId } });
      const broken = checkpoint({ seed: 10 }).subarray(0, 4000);
      const res = await upload(await cookieOf(f.users.EDITOR.userId), broken);
      expect(res.status).toBe(400);
      expect((await res.json()).error.message).toMatch(/^The checkpoint was not stored: safetensors: .*truncated/);
      const badQuery = await upload(await cookieOf(f.users.EDITOR.userId), checkpoint({ seed: 10 }), "?runid=x");
      expect(badQuery.status).toBe(400);
      expect((await badQuery.json()).error.message).toContain("Invalid query");
      expect(await db.modelVersion.count({ where: { modelId: f.modelId } })).toBe(before);
      expect(await getArtifactStore().has(sha256(broken))).toBe(false);
    });

    it("lets EDITORs and keys with models:write upload, and VIEWERs and keys with models:read download; refuses everyone else", async () => {
      const bytes = checkpoint({ seed: 11 });
      const status = async (headers: Record<string, string>) => (await upload(headers, bytes)).status;
      expect(await status(await cookieOf(f.users.OWNER.userId))).toBe(201);
      expect(await status(await bearer(["models:write"]))).toBe(201);
      expect(await status(await cookieOf(f.users.VIEWER.userId))).toBe(403);
      expect(await status(await bearer(["models:read", "runs:write"]))).toBe(403);
      const outsider = await upload(await cookieOf(f.users.outsider.userId), bytes);
      expect(outsider.status).toBe(404);
      expect(await outsider.json()).toEqual({ error: { code: "NOT_FOUND", message: "Model not found." } });
      expect(await status({})).toBe(401);

      const version = await db.modelVersion.findFirstOrThrow({ where: { modelId: f.modelId, artifactSha256: sha256(bytes) } });
      expect((await download(await bearer(["models:read"]), version.id)).status).toBe(200);
      expect((await download(await bearer(["models:write"]), version.id)).status).toBe(403);
      const hidden = await download(await cookieOf(f.users.outsider.userId), version.id);
      expect(hidden.status).toBe(404);
      expect(await hidden.json()).toEqual({ error: { code: "NOT_FOUND", message: "Model version not found." } });
      expect((await download({}, version.id)).status).toBe(401);
      const noArtifact = await download(await cookieOf(f.users.VIEWER.userId), f.modelVersionId);
      expect(noArtifact.status).toBe(404);
      expect((await noArtifact.json()).error.message).toBe("This model version has no artifact.");
    });

    it("never lets another organization reference or download this organization's file by its hash", async () => {
      const bytes = checkpoint({ seed: 14 });
      const uploaded = await upload(await cookieOf(f.users.EDITOR.userId), bytes);
      expect(uploaded.status).toBe(201);
      const hash = sha256(bytes);
      const g = await createOrgFixture(db);
      const thief = callerFor(db, g.users.EDITOR);
      // model.createVersion with the victim's hash (the probe's path), and the artifact path nodes use.
      expect(await refusal(thief.model.createVersion({ modelId: g.modelId, config: {}, artifactSha256: hash, sizeBytes: bytes.length }), TRPCError)).toContain("No artifact with this sha256 was uploaded to this organization");
      expect(await refusal(createModelVersionWithArtifact(db, g.users.EDITOR, g.orgId, g.modelId, { config: {}, sha256: hash, sizeBytes: bytes.length }))).toContain("No artifact with this sha256");
      expect(await db.modelVersion.count({ where: { modelId: g.modelId, artifactSha256: hash } })).toBe(0);
      // A version that already names the file (written before uploads were recorded) does not serve it.
      const forged = await db.modelVersion.create({ data: { modelId: g.modelId, version: 50, config: {}, artifactSha256: hash, createdById: g.users.EDITOR.userId } });
      const got = await download(await cookieOf(g.users.VIEWER.userId), forged.id);
      expect(got.status).toBe(404);
      expect(JSON.stringify(await got.json())).not.toContain(hash);
      // The organization that uploaded the file still references it freely.
      const mine = await callerFor(db, f.users.EDITOR).model.createVersion({ modelId: f.modelId, config: {}, artifactSha256: hash, sizeBytes: bytes.length });
      expect((await download(await cookieOf(f.users.VIEWER.userId), mine.id)).status).toBe(200);
    });
  });
});
