// The two engines of `hearth node` side by side, with real node processes on one server (the node API,
// the inference socket and /v1): a webgpu-only node (Hearth's WGSL engine on Dawn/SwiftShader) and a
// torch-only node (the oracle's Python: torch, transformers, peft).
// - Training: the same LoRA job (same parent, seed, batches, optimizer) on each engine gives the same
//   first 20 losses within 1e-3, and the two resulting folders' logits (as transformers computes them)
//   agree within 1e-3: the torch engine draws batches and the initial adapter with Hearth's generator.
// - Evals: one suite version on one model version grades alike on both engines (chat through the
//   template to eos, multiple choice by log-likelihood, a raw prompt), with the same outputs.
// - Serving: /v1 chat on the torch node answers what Hearth's engine answers, streamed, and concurrent
//   requests (which Python batches) each get their own answer.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import type { GpuContext } from "@/gpu/device";
import { readFolderFiles, writeFolderFiles } from "@/gpu/io/folder-node";
import { writeTar } from "@/gpu/io/tar";
import { completeText, loadTextModel } from "@/gpu/nn/text-model";
import { createApiKey } from "@/server/apikeys/service";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { commitFolderUpload, listVersionFiles, receiveFolderFile, startFolderUpload } from "@/server/models/folders";
import { createNodeToken } from "@/server/node-registry/tokens";
import { getArtifactStore } from "@/server/storage";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";
import { startNodeProcess, type NodeProcess } from "../support/nodes";
import { copyTinyLlamaFolder, oracleOrSkip, oraclePython, OracleServer, TINY_LLAMA_PAIRS } from "../support/oracle";
import { startServingServer, until, type ServingServer } from "../support/serving";
import { ANSWER, CONVERSATION, QUESTION, trainedChatFolder } from "../support/tiny-chat-folder";
import { gpuContext } from "../gpu/helpers";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-node-engines-"));
const haveOracle = oracleOrSkip();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

// No dropout (each engine draws its own masks); a loss at every step (logEvery follows checkpointEvery).
const SPEC = { kind: "LORA", steps: 20, batchSize: 2, seqLen: 48, lr: 0.01, warmupSteps: 2, checkpointEvery: 1, seed: 5, lora: { rank: 4, alpha: 8, targets: ["q_proj", "k_proj", "v_proj", "o_proj", "up_proj"] } };
const IDS = [[0, 86, 84, 40, 41, 42, 43, 12, 77, 5]];
// Pre-training from scratch: both engines start from the same folder (the architecture's config, a
// tokenizer trained on the corpus, weights from the job's seed).
const SCRATCH = { kind: "PRETRAIN", architecture: "llama-tiny", vocabSize: 300, steps: 8, batchSize: 2, seqLen: 32, lr: 0.003, checkpointEvery: 1, seed: 3 };
const CORPUS = Array.from({ length: 60 }, (_, i) => ["Refunds are possible within thirty days of delivery. ", "Shipping takes five working days. ", "A damaged parcel is replaced at no cost. "][i % 3]).join("");
const CASES = [
  { id: "chat", input: CONVERSATION, graders: [{ type: "equals", value: ANSWER, trim: false }], tags: [], clauses: [] },
  { id: "mc", input: CONVERSATION, choices: ["17.", "42.", "99."], answerIndex: 1, graders: [{ type: "multiple-choice" }], tags: [], clauses: [] },
  { id: "wrong", input: CONVERSATION, graders: [{ type: "contains", values: ["banana"] }], tags: [], clauses: [] },
  { id: "raw", input: `<s>user: ${QUESTION}</s><s>assistant: `, graders: [{ type: "contains", values: ["42"] }], tags: [], clauses: [] },
  { id: "raw-mc", input: `<s>user: ${QUESTION}</s><s>assistant: `, choices: ["42.", "24."], answerIndex: 0, graders: [{ type: "multiple-choice" }], tags: [], clauses: [] },
  { id: "other", input: [{ role: "user", content: "and the question?" }], graders: [{ type: "regex", pattern: "^4" }], tags: [], clauses: [] },
];

describe.skipIf(!haveOracle)("webgpu and torch nodes on one server", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let serving: ServingServer;
  let ctx: GpuContext;
  let oracle: OracleServer;
  let parentId: string;
  let chatFiles: Map<string, Uint8Array>;
  let chatVersionId: string;
  let suiteVersionId: string;
  let pairsVersionId: string;
  let apiKey: string;
  let slug: string;
  const nodes: NodeProcess[] = [];
  const trained: Record<"webgpu" | "torch", { runId: string; versionId: string } | undefined> = { webgpu: undefined, torch: undefined };
  const scratch: Record<"webgpu" | "torch", string | undefined> = { webgpu: undefined, torch: undefined };
  let corpusVersionId: string;

  /** A folder imported file by file, as the model page and `hearth model push` do. */
  async function importFolder(files: Map<string, Uint8Array>, name: string): Promise<string> {
    const model = await db.model.create({ data: { projectId: f.projectId, name, createdById: f.users.EDITOR.userId }, select: { id: true } });
    const upload = await startFolderUpload(db, f.users.EDITOR, f.orgId, model.id, { files: [...files].map(([p, b]) => ({ path: p, sha256: sha256(b), size: b.length })), lineage: {} });
    for (const n of upload.missing) await receiveFolderFile(db, f.orgId, model.id, upload.uploadId, n, Readable.from([Buffer.from(files.get(n)!)]));
    return (await commitFolderUpload(db, f.users.EDITOR, f.orgId, model.id, upload.uploadId)).id;
  }
  async function startNode(engine: "webgpu" | "torch") {
    const { secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, unique(engine));
    const args = engine === "torch" ? ["--engines", "torch", "--python", oraclePython(), "--cpu-ranks", "2"] : ["--engines", "webgpu", "--no-serve"];
    const node = startNodeProcess({ serverUrl: serving.origin, token: secret, name: unique(`${engine}-node`), args });
    nodes.push(node);
    await node.waitFor(/registered with/);
    return node;
  }
  async function finished(runId: string, node: NodeProcess) {
    await until(async () => ["SUCCEEDED", "FAILED"].includes((await db.run.findUniqueOrThrow({ where: { id: runId } })).status), `run ${runId} finishing`, () => node.output(), 280_000);
    return db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, error: true, engine: true } });
  }
  const loraRun = async (extra: Record<string, unknown> = {}) =>
    callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "LORA", target: "NODE", config: { ...SPEC, ...extra, modelId: (await db.modelVersion.findUniqueOrThrow({ where: { id: parentId } })).modelId }, datasetVersionId: pairsVersionId, modelVersionId: parentId });
  async function loraOn(node: NodeProcess, engine: "webgpu" | "torch") {
    const run = await loraRun();
    expect(await finished(run.id, node)).toEqual({ status: "SUCCEEDED", error: null, engine });
    const version = await db.modelVersion.findFirstOrThrow({ where: { runId: run.id }, select: { id: true } });
    trained[engine] = { runId: run.id, versionId: version.id };
  }
  async function scratchOn(node: NodeProcess, engine: "webgpu" | "torch") {
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "PRETRAIN", target: "NODE", config: { ...SCRATCH, modelId: f.modelId }, datasetVersionId: corpusVersionId });
    expect(await finished(run.id, node)).toEqual({ status: "SUCCEEDED", error: null, engine });
    scratch[engine] = run.id;
  }
  const lossesOf = async (runId: string) => (await db.runMetric.findMany({ where: { runId, name: "loss" }, orderBy: { step: "asc" }, select: { step: true, value: true } })).map((m) => [m.step, m.value]);
  async function evalOn(node: NodeProcess, engine: "webgpu" | "torch") {
    const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", suiteVersionId, modelVersionId: chatVersionId, config: { maxTokens: 12, temperature: 0 } });
    expect(await finished(run.id, node)).toEqual({ status: "SUCCEEDED", error: null, engine });
    const results = await callerFor(db, f.users.VIEWER).run.results({ runId: run.id });
    return Object.fromEntries(results.items.map((r) => [r.caseId, { pass: r.pass, score: r.score, output: r.output, grades: r.grades }]));
  }
  async function versionDir(versionId: string) {
    const dir = tempDir("hearth-node-engines-version-");
    for (const file of await listVersionFiles(db, versionId)) writeFolderFiles([[file.path, Buffer.concat(await (await getArtifactStore().open(file.sha256)).toArray())]], dir);
    return dir;
  }

  beforeAll(async () => {
    ctx = await gpuContext();
    ({ db, close } = await openTestDatabase("embedded"));
    f = await createOrgFixture(db);
    slug = (await db.project.findUniqueOrThrow({ where: { id: f.projectId }, select: { slug: true } })).slug;
    serving = await startServingServer(db);
    oracle = new OracleServer("hf_folder.py", ["serve"]);
    const parentDir = path.join(tempDir("hearth-node-engines-src-"), "tiny-llama");
    copyTinyLlamaFolder(parentDir);
    parentId = await importFolder(readFolderFiles(parentDir), "tiny-llama");
    chatFiles = await trainedChatFolder(ctx);
    chatVersionId = await importFolder(chatFiles, "chat");
    const datasetId = (await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("pairs"), kind: "PAIRS" })).id;
    const corpusId = (await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("corpus"), kind: "CORPUS" })).id;
    corpusVersionId = (await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, corpusId, Readable.from([CORPUS]))).id;
    pairsVersionId = (await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, datasetId, Readable.from([TINY_LLAMA_PAIRS.map((p) => JSON.stringify(p)).join("\n")]))).id;
    const suite = await db.evalSuite.create({ data: { projectId: f.projectId, name: unique("engines"), draft: CASES, createdById: f.users.EDITOR.userId }, select: { id: true } });
    suiteVersionId = (await db.suiteVersion.create({ data: { suiteId: suite.id, version: 1, cases: CASES, caseCount: CASES.length, sha256: "5".repeat(64), message: "v1", authorId: f.users.EDITOR.userId }, select: { id: true } })).id;
    apiKey = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: "engines", scopes: ["models:invoke"], projectId: f.projectId })).secret;
  }, 300_000);
  afterAll(async () => {
    for (const n of nodes) await n.kill("SIGTERM");
    oracle?.close();
    await serving?.close();
    await close?.();
  });

  let webgpuGrades: Record<string, unknown>;

  it("a webgpu-only node trains the LoRA job and grades the suite", async () => {
    const node = await startNode("webgpu");
    await loraOn(node, "webgpu");
    await scratchOn(node, "webgpu");
    webgpuGrades = await evalOn(node, "webgpu");
    expect(webgpuGrades).toMatchObject({
      chat: { pass: true, output: ANSWER },
      mc: { pass: true },
      wrong: { pass: false, output: ANSWER },
      raw: { pass: true },
      "raw-mc": { pass: true },
    });
    expect(await node.kill("SIGTERM")).toBe(0);
  }, 300_000);

  it("a torch-only node trains the same job: the first 20 losses agree within 1e-3, the two models' logits within 1e-3", async () => {
    expect(trained.webgpu, "the webgpu run of the same job").toBeDefined();
    const node = await startNode("torch");
    await loraOn(node, "torch");
    const onWebgpu = await lossesOf(trained.webgpu!.runId);
    const onTorch = await lossesOf(trained.torch!.runId);
    expect(onWebgpu.map(([s]) => s)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(onTorch.map(([s]) => s)).toEqual(onWebgpu.map(([s]) => s));
    const gaps = onTorch.map(([, l], i) => Math.abs(l - onWebgpu[i][1]));
    expect(Math.max(...gaps), JSON.stringify({ onWebgpu, onTorch })).toBeLessThan(1e-3);
    expect(onWebgpu.at(-1)![1]).toBeLessThan(onWebgpu[0][1] - 0.1); // it learned: the agreement is not two flat lines

    // The two resulting folders, as transformers computes them.
    const logitsOf = async (versionId: string) => (await oracle.request<{ logits: number[][] }>({ dir: await versionDir(versionId), ids: IDS })).logits[0];
    const a = await logitsOf(trained.webgpu!.versionId);
    const b = await logitsOf(trained.torch!.versionId);
    const parent = await logitsOf(parentId);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-3);
    expect(Math.max(...a.map((v, i) => Math.abs(v - parent[i])))).toBeGreaterThan(1e-2); // both moved away from the parent
  }, 300_000);

  it("the same job as 2 processes sharing each batch (DDP, and forced FSDP) gives the 1-process losses within 1e-5; a job asking for more GPUs than the node has stays queued and the node says why", async () => {
    const node = nodes.at(-1)!;
    // the torch engine reports every step's loss: one checkpoint at the end is enough here
    const short = { steps: 5, checkpointEvery: 5 };
    const reference = await loraRun(short);
    expect(await finished(reference.id, node)).toEqual({ status: "SUCCEEDED", error: null, engine: "torch" });
    const one = await lossesOf(reference.id);
    expect(one.map(([s]) => s)).toEqual([1, 2, 3, 4, 5]);
    for (const strategy of ["ddp", "fsdp"] as const) {
      const run = await loraRun({ ...short, gpus: 2, ...(strategy === "fsdp" ? { strategy } : {}) });
      await node.waitFor(new RegExp(`run ${run.id}: torch process \\d+ started \\(torchrun, 2 processes with ${strategy}, on the CPU\\)`));
      await node.waitFor(new RegExp(`run ${run.id}: torch engine training on cpu \\(2 processes\\)`));
      expect(await finished(run.id, node)).toEqual({ status: "SUCCEEDED", error: null, engine: "torch" });
      const two = await lossesOf(run.id);
      expect(two.map(([s]) => s)).toEqual(one.map(([s]) => s));
      expect(Math.max(...two.map(([, l], i) => Math.abs(l - one[i][1]))), `${strategy}: ${JSON.stringify({ one, two })}`).toBeLessThan(1e-5);
      expect(await db.modelVersion.count({ where: { runId: run.id } })).toBe(1);
    }
    const wide = await loraRun({ gpus: 4, batchSize: 4 });
    await node.waitFor(/1 queued job asks for up to 4 GPUs on one node; this node runs 2 processes/);
    expect((await db.run.findUniqueOrThrow({ where: { id: wide.id }, select: { status: true } })).status).toBe("QUEUED");
    await callerFor(db, f.users.EDITOR).run.transition({ runId: wide.id, status: "CANCELLED" });
  }, 300_000);

  it("a torch-only node pre-trains an architecture from scratch as the webgpu node did: the same tokenizer, the same start, the same losses", async () => {
    expect(scratch.webgpu, "the webgpu run of the same job").toBeDefined();
    const node = nodes.at(-1)!;
    await scratchOn(node, "torch");
    expect(node.output()).toMatch(new RegExp(`run ${scratch.torch}: training a tokenizer on the corpus for a new llama-tiny`));
    const onWebgpu = await lossesOf(scratch.webgpu!);
    const onTorch = await lossesOf(scratch.torch!);
    expect(onWebgpu.map(([s]) => s)).toEqual(Array.from({ length: SCRATCH.steps }, (_, i) => i + 1));
    expect(onTorch.map(([s]) => s)).toEqual(onWebgpu.map(([s]) => s));
    expect(Math.max(...onTorch.map(([, l], i) => Math.abs(l - onWebgpu[i][1]))), JSON.stringify({ onWebgpu, onTorch })).toBeLessThan(1e-3);
    const files = async (runId: string) => {
      const version = await db.modelVersion.findFirstOrThrow({ where: { runId }, select: { id: true } });
      return new Map(await Promise.all((await listVersionFiles(db, version.id)).map(async (file) => [file.path, file.sha256] as const)));
    };
    const [a, b] = [await files(scratch.webgpu!), await files(scratch.torch!)];
    expect([...b.keys()].sort()).toEqual(expect.arrayContaining(["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]));
    for (const same of ["tokenizer.json", "tokenizer_config.json"]) expect(b.get(same), same).toBe(a.get(same));
  }, 300_000);

  it("the torch node grades the same suite version on the same model version as the webgpu node did", async () => {
    const node = nodes.at(-1)!;
    const grades = await evalOn(node, "torch");
    expect(grades).toEqual(webgpuGrades);
    expect(node.output()).toMatch(/torch engine loaded the model on cpu \(float32/);
  }, 300_000);

  it("the torch node serves /v1: the engine's answer, streamed; concurrent requests (batched by Python) each get their own", async () => {
    const node = nodes.at(-1)!;
    await until(() => serving.hub.connectedNodeIds().length === 1, "the torch node's inference socket", () => node.output());
    const client = new OpenAI({ apiKey, baseURL: serving.baseUrl, maxRetries: 0 });
    const model = `${slug}/chat:v1`;
    const whole = await client.chat.completions.create({ model, messages: CONVERSATION, max_tokens: 16, temperature: 0 });
    expect(whole.choices[0]).toMatchObject({ message: { role: "assistant", content: ANSWER }, finish_reason: "stop" });
    expect(node.output()).toMatch(/loaded model version \w+ for serving on the torch engine/);

    const stream = await client.chat.completions.create({ model, messages: CONVERSATION, max_tokens: 16, temperature: 0, stream: true });
    const pieces: string[] = [];
    for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) pieces.push(chunk.choices[0].delta.content);
    expect(pieces.join("")).toBe(ANSWER);
    expect(pieces.length).toBeGreaterThan(1);

    // Different conversations at once: each answers what Hearth's own engine answers for it.
    const conversations = [CONVERSATION, [{ role: "user", content: "and the question?" }], [{ role: "system", content: "Be brief." }, ...CONVERSATION], [{ role: "user", content: "42?" }]];
    const engine = await loadTextModel(ctx, writeTar(chatFiles));
    try {
      const expected = [];
      for (const c of conversations) expected.push((await completeText(engine, engine.chatPromptIds(c), { maxNewTokens: 8, temperature: 0, stop: engine.chatStops })).text);
      const answers = await Promise.all(conversations.map((c) => client.chat.completions.create({ model, messages: c as OpenAI.Chat.ChatCompletionMessageParam[], max_tokens: 8, temperature: 0 })));
      expect(answers.map((r) => r.choices[0].message.content)).toEqual(expected);
    } finally {
      engine.release();
    }
  }, 300_000);
});
