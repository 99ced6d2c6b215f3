// A Hugging Face folder version through the single-artifact paths, as one ustar archive: downloaded by
// the web route and the node API (a run's parent), and uploaded back as a training run's result from
// the browser (POST /api/models/:id/versions) and from a node (PUT artifact, then complete). The
// version that comes back is a folder version like an imported one; a bad archive leaves nothing.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { createSession } from "@/server/auth/sessions";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { commitFolderUpload, receiveFolderFile, startFolderUpload } from "@/server/models/folders";
import { storeUploadedModel } from "@/server/models/artifacts";
import { handleNodeApi } from "@/server/node-registry/api";
import { createNodeToken } from "@/server/node-registry/tokens";
import { registerNode } from "@/server/node-registry/service";
import { getArtifactStore } from "@/server/storage";
import { readTar, TAR_BLOCK, writeTar } from "@/gpu/io/tar";
import { encodeSafetensors } from "@/gpu/io/safetensors";
import { parseHFConfig, type DecoderConfig } from "@/gpu/nn/hf-config";
import { planDecoderTraining } from "@/gpu/train/memory-plan";
import { estimateTrainJob, validateTrainJobSpec } from "@/gpu/train/job";
import { POST as uploadRoute } from "@/app/api/models/[modelId]/versions/route";
import { GET as artifactRoute } from "@/app/api/model-versions/[modelVersionId]/artifact/route";
import { GET as listRoute } from "@/app/api/model-versions/[modelVersionId]/files/route";
import { GET as fileRoute } from "@/app/api/model-versions/[modelVersionId]/files/[...path]/route";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { registerTestNode, registration, TINY_SPEC } from "../support/nodes";
import { writeTinyLlamaFolder } from "../support/tiny-hf-folder";
import { byteLevelJson, tinyVocab } from "../support/tokenizer-fixtures";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-folder-archives-"));
process.env.NEXTAUTH_SECRET = "folder-archives-test-secret";

type Folder = Map<string, Buffer>;
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const CORPUS = "the refund window is thirty days.\n".repeat(20);

/** A tiny llama folder with its own tokenizer, as save_pretrained writes one (no Python needed). */
function tinyFolder(o: { seed?: number; config?: Record<string, unknown> } = {}): Folder {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-tiny-folder-"));
  try {
    writeTinyLlamaFolder(dir, { seed: o.seed, config: { vocab_size: 272, ...o.config } });
    const { vocab, merges } = tinyVocab();
    fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(byteLevelJson(vocab, merges)));
    fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "<|eot|>", chat_template: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}" }));
    fs.writeFileSync(path.join(dir, "README.md"), "---\nlicense: apache-2.0\n---\n# tiny\n");
    return new Map(fs.readdirSync(dir).sort().map((name) => [name, fs.readFileSync(path.join(dir, name))]));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const tarOf = (files: Iterable<readonly [string, Uint8Array]>) => Buffer.from(writeTar(files));

/** A PEFT LoRA adapter's two files (rank 2 on q_proj and v_proj of the tiny llama). */
function adapterFiles(): Folder {
  const tensors: Record<string, { shape: number[]; data: number[] }> = {};
  for (let layer = 0; layer < 2; layer++) {
    for (const [proj, out] of [["q_proj", 32], ["v_proj", 16]] as const) {
      const at = `base_model.model.model.layers.${layer}.self_attn.${proj}`;
      tensors[`${at}.lora_A.weight`] = { shape: [2, 32], data: Array.from({ length: 64 }, (_, i) => (i % 7) / 10) };
      tensors[`${at}.lora_B.weight`] = { shape: [out, 2], data: Array.from({ length: out * 2 }, (_, i) => (i % 5) / 10) };
    }
  }
  return new Map([
    ["adapter/adapter_config.json", Buffer.from(JSON.stringify({ peft_type: "LORA", r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj"], bias: "none" }))],
    ["adapter/adapter_model.safetensors", Buffer.from(encodeSafetensors(tensors, { format: "pt" }))],
  ]);
}

describe.each(TEST_DATABASE_KINDS)("model folder archives on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let datasetVersionId: string;
  /** An imported folder version and its files. */
  let importedId: string;
  let imported: Folder;
  const store = () => getArtifactStore();

  beforeAll(async () => {
    const opened = await openTestDatabase(kind);
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    const corpus = await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("corpus"), kind: "CORPUS" });
    datasetVersionId = (await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, corpus.id, Readable.from([CORPUS]))).id;
    imported = tinyFolder({ seed: 1 });
    const files = [...imported].map(([p, b]) => ({ path: p, sha256: sha256(b), size: b.length }));
    const upload = await startFolderUpload(db, f.users.EDITOR, f.orgId, f.modelId, { files, lineage: {} });
    for (const name of upload.missing) await receiveFolderFile(db, f.orgId, f.modelId, upload.uploadId, name, Readable.from([imported.get(name)!]));
    importedId = (await commitFolderUpload(db, f.users.EDITOR, f.orgId, f.modelId, upload.uploadId)).id;
  });
  afterAll(async () => close?.());

  async function cookieOf(userId: string) {
    return { cookie: `next-auth.session-token=${await encode({ token: { uid: userId, sid: await createSession(db, userId) }, secret: process.env.NEXTAUTH_SECRET! })}` };
  }
  const editor = () => cookieOf(f.users.EDITOR.userId);
  async function upload(headers: Record<string, string>, body: Uint8Array, query = "") {
    const req = new Request(`http://localhost/api/models/${f.modelId}/versions${query}`, { method: "POST", headers, body: Buffer.from(body) });
    const res = await uploadRoute(req, { params: Promise.resolve({ modelId: f.modelId }) });
    return { status: res.status, body: await res.json() };
  }
  const download = (headers: Record<string, string>, modelVersionId: string) =>
    artifactRoute(new Request(`http://localhost/api/model-versions/${modelVersionId}/artifact`, { headers }), { params: Promise.resolve({ modelVersionId }) });

  function nodeRequest(node: { secret: string; nodeId: string }, method: string, apiPath: string, o: { json?: unknown; body?: Uint8Array } = {}) {
    const headers: Record<string, string> = { authorization: `Bearer ${node.secret}`, "x-hearth-node": node.nodeId };
    if (o.json !== undefined) headers["content-type"] = "application/json";
    const body = o.json !== undefined ? JSON.stringify(o.json) : o.body ? Buffer.from(o.body) : undefined;
    return handleNodeApi(db, new Request(`http://hearth.test/api/node/${apiPath}`, { method, headers, body, duplex: "half" } as RequestInit), { store: store() });
  }

  /** A training run of the fixture's model on the imported folder, RUNNING: in the browser, or leased by a new node. */
  async function trainingRun(target: "BROWSER" | "NODE") {
    const caller = callerFor(db, f.users.EDITOR);
    const run = await caller.run.create({ projectId: f.projectId, kind: "SFT", target, config: { ...TINY_SPEC, kind: "SFT", modelId: f.modelId }, datasetVersionId, modelVersionId: importedId });
    if (target === "BROWSER") {
      await caller.run.transition({ runId: run.id, status: "RUNNING" });
      return { runId: run.id, node: null };
    }
    const node = await registerTestNode(db, f, unique("gpu"));
    const leased = await (await nodeRequest(node, "POST", "lease", { json: { kinds: ["SFT"] } })).json();
    expect(leased.job?.runId).toBe(run.id);
    return { runId: run.id, node };
  }

  /** The archive matches the folder file for file, in path order. */
  function expectArchiveOf(archive: Uint8Array, folder: Folder) {
    const files = readTar(archive);
    expect([...files.keys()]).toEqual([...folder.keys()].sort());
    for (const [name, bytes] of folder) expect(Buffer.from(files.get(name)!).equals(bytes), name).toBe(true);
  }

  /** What the files route and the file downloads (what `hearth model pull` reads) give back for a version. */
  async function filesOf(modelVersionId: string): Promise<Folder> {
    const auth = await cookieOf(f.users.VIEWER.userId);
    const list = await (await listRoute(new Request("http://h/x", { headers: auth }), { params: Promise.resolve({ modelVersionId }) })).json();
    const out: Folder = new Map();
    for (const file of list.files as Array<{ path: string; sha256: string; size: number }>) {
      const res = await fileRoute(new Request("http://h/x", { headers: auth }), { params: Promise.resolve({ modelVersionId, path: file.path.split("/") }) });
      const bytes = Buffer.from(await res.arrayBuffer());
      expect({ sha256: sha256(bytes), size: bytes.length }).toEqual({ sha256: file.sha256, size: file.size });
      out.set(file.path, bytes);
    }
    return out;
  }

  const counts = async () => ({ versions: await db.modelVersion.count({ where: { modelId: f.modelId } }), files: await db.modelVersionFile.count() });

  it("downloads a folder version through the web route as a ustar archive of its files, with its exact length", async () => {
    const res = await download(await cookieOf(f.users.VIEWER.userId), importedId);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-hearth-artifact")).toBe("hf-folder-tar");
    expect(res.headers.get("content-disposition")).toMatch(/-v\d+\.tar"$/);
    const archive = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(archive.length);
    expect(archive.length % TAR_BLOCK).toBe(0);
    expectArchiveOf(archive, imported);
  });

  it("serves the archive to the node that holds a run on the folder, and by version id within its organization only", async () => {
    const { runId, node } = await trainingRun("NODE");
    for (const apiPath of [`runs/${runId}/model`, `model-versions/${importedId}/artifact`]) {
      const res = await nodeRequest(node!, "GET", apiPath);
      expect(res.status, apiPath).toBe(200);
      expect(res.headers.get("x-hearth-artifact")).toBe("hf-folder-tar");
      const archive = new Uint8Array(await res.arrayBuffer());
      expect(Number(res.headers.get("content-length"))).toBe(archive.length);
      expectArchiveOf(archive, imported);
    }
    const other = await registerTestNode(db, f, unique("other-gpu"));
    expect((await nodeRequest(other, "GET", `runs/${runId}/model`)).status).toBe(409);
    const { secret } = await createNodeToken(db, f.users.outsider, f.otherOrgId, unique("theirs"));
    const { nodeId } = await registerNode(db, `Bearer ${secret}`, registration("theirs"));
    const foreign = await nodeRequest({ secret, nodeId }, "GET", `model-versions/${importedId}/artifact`);
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get("x-hearth-artifact")).toBeNull();
  });

  it("sizes a node job on a folder by the parent's memory plan, not a GPT preset's estimate", async () => {
    const { runId } = await trainingRun("NODE");
    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { requiredMemory: true } });
    const config = parseHFConfig(JSON.parse(imported.get("config.json")!.toString("utf8"))) as DecoderConfig;
    const plan = planDecoderTraining(config, { kind: "SFT", batchSize: TINY_SPEC.batchSize, seqLen: TINY_SPEC.seqLen, sourceBytes: 2 });
    expect(run.requiredMemory).toBe(BigInt(Math.ceil(plan.total)));
    expect(plan.total).not.toBe(estimateTrainJob(validateTrainJobSpec({ ...TINY_SPEC, kind: "SFT" })).bufferBytes);
  });

  it("creates a folder version from a browser run's archive, with the run's lineage and the folder's description; a retry gives back the same version", async () => {
    const { runId } = await trainingRun("BROWSER");
    const trained = tinyFolder({ seed: 2 });
    const before = await counts();
    const first = await upload(await editor(), tarOf(trained), `?runId=${runId}`);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ modelId: f.modelId, runId, datasetVersionId, parentId: importedId, artifactSha256: null, sizeBytes: [...trained.values()].reduce((n, b) => n + b.length, 0) });
    // Described as an import describes the same folder, with the run's training spec beside it.
    const importedConfig = (await db.modelVersion.findUniqueOrThrow({ where: { id: importedId }, select: { config: true } })).config;
    const { training, ...description } = first.body.config;
    expect(description).toEqual(importedConfig);
    expect(description).toMatchObject({ format: "hf-folder", modelType: "llama", architecture: "LlamaForCausalLM", dtype: "BF16", license: "apache-2.0", vocabSize: 272, hasChatTemplate: true });
    expect(training).toMatchObject({ kind: "SFT", modelId: f.modelId });
    expect(await filesOf(first.body.id)).toEqual(trained);
    expect(await counts()).toEqual({ versions: before.versions + 1, files: before.files + trained.size });

    const again = await upload(await editor(), tarOf(trained), `?runId=${runId}`);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(await counts()).toEqual({ versions: before.versions + 1, files: before.files + trained.size });

    // And it goes down again as an archive, like any folder version.
    expectArchiveOf(new Uint8Array(await (await download(await editor(), first.body.id)).arrayBuffer()), trained);
  });

  it("creates a folder version from a node's archive (PUT the artifact, then complete), once however often complete is sent", async () => {
    const { runId, node } = await trainingRun("NODE");
    const trained = tinyFolder({ seed: 3 });
    const put = await nodeRequest(node!, "PUT", `runs/${runId}/artifact`, { body: tarOf(trained) });
    expect(put.status).toBe(201);
    const stored = await put.json();
    expect(stored.config).toMatchObject({ format: "hf-folder", modelType: "llama" });
    const completion = { artifactSha256: stored.sha256, sizeBytes: stored.sizeBytes, modelConfig: { claimed: "by the node" }, summary: { steps: 4 } };
    const done = await nodeRequest(node!, "POST", `runs/${runId}/complete`, { json: completion });
    expect(done.status).toBe(200);
    const { modelVersionId } = await done.json();
    const resent = await nodeRequest(node!, "POST", `runs/${runId}/complete`, { json: completion });
    expect((await resent.json()).modelVersionId).toBe(modelVersionId);

    const version = await db.modelVersion.findUniqueOrThrow({ where: { id: modelVersionId } });
    expect(version).toMatchObject({ runId, datasetVersionId, parentId: importedId, artifactSha256: null, createdById: f.users.EDITOR.userId, sizeBytes: BigInt([...trained.values()].reduce((n, b) => n + b.length, 0)) });
    expect(version.config).toMatchObject({ format: "hf-folder", modelType: "llama", training: { kind: "SFT" } });
    expect(version.config).not.toHaveProperty("claimed");
    expect(await filesOf(modelVersionId)).toEqual(trained);
    expect((await db.run.findUniqueOrThrow({ where: { id: runId } })).status).toBe("SUCCEEDED");
    expect(await db.modelVersion.count({ where: { runId } })).toBe(1);
  });

  it("keeps an adapter/ subfolder of the archive as the version's files under that path", async () => {
    const { runId } = await trainingRun("BROWSER");
    const trained = new Map([...tinyFolder({ seed: 4 }), ...adapterFiles()]);
    const res = await upload(await editor(), tarOf(trained), `?runId=${runId}`);
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const files = await filesOf(res.body.id);
    expect([...files.keys()].filter((p) => p.startsWith("adapter/"))).toEqual(["adapter/adapter_config.json", "adapter/adapter_model.safetensors"]);
    expect(files).toEqual(trained);
  });

  const withConfig = (folder: Folder, change: (c: Record<string, unknown>) => void): Folder => {
    const config = JSON.parse(folder.get("config.json")!.toString());
    change(config);
    return new Map([...folder, ["config.json", Buffer.from(JSON.stringify(config))]]);
  };
  const weightsOf = (seed: number) => tinyFolder({ seed }).get("model.safetensors")!;
  const refusals: Array<[string, () => Buffer, RegExp, () => Buffer[]]> = [
    ["bytes that are neither an archive nor a checkpoint", () => Buffer.from("just some text, not a model\n".repeat(40)), /send a Hearth GPT checkpoint, or a Hugging Face folder as a ustar archive/, () => [Buffer.from("just some text, not a model\n".repeat(40))]],
    ["a truncated archive", () => tarOf(tinyFolder({ seed: 5 })).subarray(0, -3000), /The archive is truncated/, () => [weightsOf(5)]],
    ["a path escaping the folder", () => tarOf([...tinyFolder({ seed: 6 }), ["../escaped.json", Buffer.from('{"seed": 6}')]]), /"\.\.\/escaped\.json" is not a file name Hearth accepts/, () => [Buffer.from('{"seed": 6}'), weightsOf(6)]],
    ["an absolute path", () => tarOf([...tinyFolder({ seed: 7 }), ["/etc/hearth.json", Buffer.from('{"seed": 7}')]]), /"\/etc\/hearth\.json" is not a file name Hearth accepts/, () => [Buffer.from('{"seed": 7}'), weightsOf(7)]],
    ["a file listed twice", () => tarOf([...tinyFolder({ seed: 8 }), ["tokenizer.json", Buffer.from("{}")]]), /"tokenizer\.json" is listed twice/, () => [weightsOf(8)]],
    ["a folder without tokenizer.json", () => tarOf([...tinyFolder({ seed: 9 })].filter(([n]) => n !== "tokenizer.json")), /The folder has no tokenizer\.json/, () => [weightsOf(9)]],
    [
      "a tensor whose shape disagrees with config.json",
      () => tarOf(withConfig(tinyFolder({ seed: 10 }), (c) => (c.intermediate_size = 40))),
      /is \[48, 32\] but config\.json needs \[40, 32\]/,
      () => [weightsOf(10)],
    ],
  ];

  it.each(refusals)("refuses %s from the browser with 400 and the reason, creating no version and storing none of its files", async (_label, archive, message, unstored) => {
    const { runId } = await trainingRun("BROWSER");
    const before = await counts();
    const res = await upload(await editor(), archive(), `?runId=${runId}`);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await counts()).toEqual(before);
    expect(await db.modelVersion.count({ where: { runId } })).toBe(0);
    for (const bytes of unstored()) expect(await store().has(sha256(bytes))).toBe(false);
  });

  it("refuses a bad archive from a node at the upload, leaving the run without a version", async () => {
    const { runId, node } = await trainingRun("NODE");
    const bad = withConfig(tinyFolder({ seed: 11 }), (c) => (c.intermediate_size = 40));
    const before = await counts();
    const put = await nodeRequest(node!, "PUT", `runs/${runId}/artifact`, { body: tarOf(bad) });
    expect(put.status).toBe(400);
    expect((await put.json()).error.message).toMatch(/is \[48, 32\] but config\.json needs \[40, 32\]/);
    expect(await store().has(sha256(bad.get("model.safetensors")!))).toBe(false);
    const truncated = await nodeRequest(node!, "PUT", `runs/${runId}/artifact`, { body: tarOf(tinyFolder({ seed: 11 })).subarray(0, 4000) });
    expect(truncated.status).toBe(400);
    expect((await truncated.json()).error.message).toMatch(/The archive is truncated/);
    expect(await counts()).toEqual(before);
    expect((await db.run.findUniqueOrThrow({ where: { id: runId } })).status).toBe("RUNNING");
  });

  it("holds a folder archive to the folder limit and a checkpoint to the checkpoint limit", async () => {
    const archive = tarOf(tinyFolder({ seed: 21 }));
    const owner = { db, orgId: f.orgId };
    const limits = { maxBytes: 4096, folderMaxBytes: archive.length + 1024 };
    const stored = await storeUploadedModel(owner, Readable.from([archive]), limits);
    expect(stored.kind).toBe("folder");
    await expect(storeUploadedModel(owner, Readable.from([tarOf(tinyFolder({ seed: 22 }))]), { ...limits, folderMaxBytes: archive.length / 2 })).rejects.toThrow(/larger than the limit of \d+ bytes/);
    const checkpoint = Buffer.alloc(10_000, 7);
    await expect(storeUploadedModel(owner, Readable.from([checkpoint]), limits)).rejects.toThrow(/larger than the limit of 4096 bytes/);
  });

  it("lets a VIEWER download but not upload, and another organization do neither", async () => {
    const { runId } = await trainingRun("BROWSER");
    const before = await counts();
    const viewer = await upload(await cookieOf(f.users.VIEWER.userId), tarOf(tinyFolder({ seed: 12 })), `?runId=${runId}`);
    expect(viewer.status).toBe(403);
    const outsider = await cookieOf(f.users.outsider.userId);
    const foreignUpload = await upload(outsider, tarOf(tinyFolder({ seed: 12 })), `?runId=${runId}`);
    expect(foreignUpload.status).toBe(404);
    expect(await counts()).toEqual(before);
    const foreignDownload = await download(outsider, importedId);
    expect(foreignDownload.status).toBe(404);
    expect(foreignDownload.headers.get("x-hearth-artifact")).toBeNull();
    expect((await download(await cookieOf(f.users.VIEWER.userId), importedId)).status).toBe(200);
  });
});
