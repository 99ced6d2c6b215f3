// The torch engine on a node, end to end: real `hearth node` processes connected to the node API over
// HTTP. A node without Python registers with webgpu only and says why; a torch-only node (the oracle's
// Python: torch, transformers, peft) leases a LoRA run on an imported Hugging Face folder, relays its
// Python's metrics and checkpoints, and sends back a folder that becomes one version; Hearth's WebGPU
// engine loads that version and its logits agree with transformers' (one format across engines). A
// Python error fails the attempt with Python's message; kill -9 of the Python process fails the
// attempt, and the next lease resumes from the checkpoint on torch and finishes once. A Hearth GPT job
// stays queued: the torch-only node says it needs webgpu and does not lease it.
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeFolderFiles } from "@/gpu/io/folder-node";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { commitFolderUpload, listVersionFiles, receiveFolderFile, startFolderUpload } from "@/server/models/folders";
import { serveNodeApi } from "@/server/node-registry/http";
import { createNodeToken } from "@/server/node-registry/tokens";
import { getArtifactStore } from "@/server/storage";
import { writeTar } from "@/gpu/io/tar";
import { memoryFolderReader, readTar } from "@/gpu/io/tar";
import { Decoder } from "@/gpu/nn/decoder";
import type { GpuContext } from "@/gpu/device";
import { probeTorch } from "@/node-agent/torch-engine";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";
import { startNodeProcess, TINY_SPEC, type NodeProcess } from "../support/nodes";
import { copyTinyLlamaFolder, TINY_LLAMA_PAIRS, oracleOrSkip, oraclePython, runOracle } from "../support/oracle";
import { gpuContext } from "../gpu/helpers";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-node-torch-"));
const haveOracle = oracleOrSkip();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

const PAIRS = TINY_LLAMA_PAIRS;
const SPEC = { kind: "LORA", steps: 6, batchSize: 2, seqLen: 48, lr: 0.02, checkpointEvery: 3, lora: { rank: 4, alpha: 8, dropout: 0.05, targets: ["q_proj", "v_proj"] } };
const IDS = [[0, 86, 84, 40, 41, 42, 43, 12]];

describe.skipIf(!haveOracle)("the torch engine on a node process", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let server: http.Server;
  let serverUrl: string;
  let torchNode: NodeProcess;
  const others: NodeProcess[] = [];
  let parentDir: string;
  let parentId: string;
  let datasetId: string;
  let corpusId: string;
  let pairsVersionId: string;
  let ctx: GpuContext;

  async function datasetVersion(text: string, of = datasetId) {
    return (await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, of, Readable.from([text]))).id;
  }
  async function loraRun(datasetVersionId: string, spec: Record<string, unknown> = SPEC) {
    return (await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "LORA", target: "NODE", config: { ...spec, modelId: f.modelId }, datasetVersionId, modelVersionId: parentId })).id;
  }
  async function token(name: string) {
    return (await createNodeToken(db, f.users.ADMIN, f.orgId, unique(name))).secret;
  }
  const outcome = (node: NodeProcess, runId: string, timeoutMs = 120_000) => node.waitFor(new RegExp(`run ${runId} (succeeded: model version (\\w+)|failed on this attempt: [^\\n]*)`), timeoutMs);

  beforeAll(async () => {
    const opened = await openTestDatabase("embedded");
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    parentDir = path.join(tempDir("hearth-node-torch-src-"), "tiny-llama");
    copyTinyLlamaFolder(parentDir);
    const names = fs.readdirSync(parentDir).sort();
    const bytes = new Map(names.map((n) => [n, fs.readFileSync(path.join(parentDir, n))]));
    const upload = await startFolderUpload(db, f.users.EDITOR, f.orgId, f.modelId, { files: names.map((n) => ({ path: n, sha256: sha256(bytes.get(n)!), size: bytes.get(n)!.length })), lineage: {} });
    for (const name of upload.missing) await receiveFolderFile(db, f.orgId, f.modelId, upload.uploadId, name, Readable.from([bytes.get(name)!]));
    parentId = (await commitFolderUpload(db, f.users.EDITOR, f.orgId, f.modelId, upload.uploadId)).id;
    datasetId = (await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("pairs"), kind: "PAIRS" })).id;
    // A corpus (the server checks pairs at upload, not text): what Python sees when a line is not a pair.
    corpusId = (await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: unique("corpus"), kind: "CORPUS" })).id;

    server = http.createServer((req, res) => void serveNodeApi(db, req, res).catch(() => res.destroy()));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    ctx = await gpuContext();
  }, 120_000);
  afterAll(async () => {
    for (const n of [torchNode, ...others]) await n?.kill("SIGTERM");
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await close?.();
  });

  it("a node without Python registers with webgpu only and says why; a Python without torch is named with what it lacks", async () => {
    const name = unique("no-python");
    const node = startNodeProcess({ serverUrl, token: await token("plain"), name, args: ["--no-serve"] });
    others.push(node);
    await node.waitFor(/engine torch: unavailable: no Python environment given/);
    const row = await db.gpuNode.findFirstOrThrow({ where: { name }, select: { engines: true, engineInfo: true } });
    expect(row.engines).toEqual(["webgpu"]);
    expect(row.engineInfo).toMatchObject({ webgpu: { available: true }, torch: { available: false, reason: expect.stringMatching(/^no Python environment given: start the node with --python PATH/) } });
    expect(await node.kill("SIGTERM")).toBe(0);

    const bare = probeTorch("/usr/bin/python3");
    expect(bare.env).toBeNull();
    expect(bare.report.reason).toMatch(/^the Python "\/usr\/bin\/python3" lacks torch \(ModuleNotFoundError: No module named 'torch'\)/);
    const oracle = probeTorch(oraclePython());
    expect(oracle.report).toMatchObject({ engine: "torch", available: true, versions: { torch: expect.stringMatching(/^2\./), transformers: expect.any(String), peft: expect.any(String), safetensors: expect.any(String) }, gpus: [] });
  }, 60_000);

  it("a torch-only node trains a LoRA run: metrics once per step, checkpoints, one folder version with adapter/; a GPT job it does not lease, and says so", async () => {
    // A Hearth GPT pre-training job, queued first: only webgpu runs it.
    const gptRun = (await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "PRETRAIN", target: "NODE", config: TINY_SPEC, datasetVersionId: await datasetVersion("the refund window is thirty days. ".repeat(40), corpusId) })).id;
    pairsVersionId = await datasetVersion(PAIRS.map((p) => JSON.stringify(p)).join("\n"));
    const runId = await loraRun(pairsVersionId);
    const name = unique("torch");
    torchNode = startNodeProcess({ serverUrl, token: await token("torch"), name, args: ["--no-serve", "--engines", "torch", "--python", oraclePython()] });
    await torchNode.waitFor(/engine torch: available \(python 3[^)]*torch 2[^)]*\); no CUDA GPU/);
    await torchNode.waitFor(new RegExp(`leased run ${runId} \\(LORA, attempt 1 of 3\\) on engine torch`));
    const done = await outcome(torchNode, runId);
    expect(done[0], torchNode.output()).toMatch(/succeeded/);
    await torchNode.waitFor(/1 queued job needs the webgpu engine \(Hearth GPT checkpoints, .*\), which this node does not run \(it runs torch\); it does not lease it\./);
    expect(await db.run.findUniqueOrThrow({ where: { id: gptRun }, select: { status: true, engine: true } })).toEqual({ status: "QUEUED", engine: null });

    const node = await db.gpuNode.findFirstOrThrow({ where: { name }, select: { engines: true, engineInfo: true } });
    expect(node.engines).toEqual(["torch"]);
    expect(node.engineInfo).toMatchObject({ torch: { available: true, gpus: [] }, webgpu: { available: false, reason: expect.stringContaining("--engines torch") } });

    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, engine: true, attempts: true, error: true, summary: true } });
    expect(run).toMatchObject({ status: "SUCCEEDED", engine: "torch", attempts: 1, error: null, summary: { steps: 6, engine: "torch", resumedFromStep: null } });
    const losses = await db.runMetric.findMany({ where: { runId, name: "loss" }, orderBy: { step: "asc" }, select: { step: true, value: true } });
    expect(losses.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(losses.every((l) => Number.isFinite(l.value) && l.value > 0)).toBe(true);
    expect(torchNode.output()).toMatch(new RegExp(`run ${runId}: checkpoint of step 3 stored`));
    expect(torchNode.output()).toMatch(new RegExp(`run ${runId}: checkpoint of step 6 stored`));

    const versions = await db.modelVersion.findMany({ where: { runId }, select: { id: true, parentId: true, config: true } });
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ id: done[2], parentId, config: { format: "hf-folder", modelType: "llama", training: { kind: "LORA" } } });
    const files = await listVersionFiles(db, versions[0].id);
    expect(files.map((x) => x.path)).toEqual(expect.arrayContaining(["config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"]));
    const out = path.join(tempDir("hearth-node-torch-out-"), "trained");
    const archive: Array<[string, Uint8Array]> = [];
    for (const file of files) {
      const bytes = Buffer.concat(await (await getArtifactStore().open(file.sha256)).toArray());
      writeFolderFiles([[file.path, bytes]], out);
      archive.push([file.path, new Uint8Array(bytes)]);
    }
    // The parent's config and tokenizer travel unchanged; the adapter is peft's, with the run's settings.
    for (const same of ["config.json", "tokenizer.json"]) expect(fs.readFileSync(path.join(out, same)).equals(fs.readFileSync(path.join(parentDir, same))), same).toBe(true);
    expect(JSON.parse(fs.readFileSync(path.join(out, "adapter", "adapter_config.json"), "utf8"))).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8, lora_dropout: 0.05 });

    // One format across engines: Hearth's WebGPU engine loads the torch engine's version (as the
    // archive a node or browser downloads) and its logits are transformers' within 1e-4.
    const want: number[][] = JSON.parse(runOracle("hf_folder.py", ["forward", out], { input: JSON.stringify({ ids: IDS }) }).stdout).logits;
    const model = await Decoder.fromHF(ctx, memoryFolderReader(readTar(writeTar(archive))));
    const x = ctx.tensor(IDS[0], [1, IDS[0].length], "i32");
    const logits = model.logits(x);
    const all = (await ctx.read(logits)) as Float32Array;
    const V = want[0].length;
    const got = all.slice((IDS[0].length - 1) * V, IDS[0].length * V);
    const diff = Math.max(...want[0].map((w, i) => Math.abs(w - got[i])));
    expect(diff).toBeLessThan(1e-4);
    const parentLogits: number[][] = JSON.parse(runOracle("hf_folder.py", ["forward", parentDir], { input: JSON.stringify({ ids: IDS }) }).stdout).logits;
    expect(Math.max(...want[0].map((w, i) => Math.abs(w - parentLogits[0][i])))).toBeGreaterThan(1e-3); // training moved it
    for (const t of [logits, x]) t.release();
    model.release();
  }, 180_000);

  it("a Python error (a dataset line that is not a pair) fails the run with Python's message, at once", async () => {
    const runId = await loraRun(await datasetVersion([JSON.stringify(PAIRS[0]), JSON.stringify({ question: "?" })].join("\n"), corpusId));
    const failed = await outcome(torchNode, runId);
    expect(failed[0]).toMatch(/failed on this attempt: dataset line 2: expected \{"prompt": "\.\.\.", "response": "\.\.\."\} or \{"messages": \[\.\.\.\]\}/);
    await expect.poll(async () => (await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true } })).status).toBe("FAILED");
    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { error: true, attempts: true, engine: true } });
    expect(run).toEqual({ error: 'dataset line 2: expected {"prompt": "...", "response": "..."} or {"messages": [...]}', attempts: 1, engine: "torch" });
  }, 60_000);

  it("kill -9 of the Python process fails the attempt with its last output; the next lease resumes from the checkpoint on torch and finishes once", async () => {
    const spec = { ...SPEC, steps: 24, checkpointEvery: 4, lora: { rank: 4, alpha: 8 } };
    const runId = await loraRun(pairsVersionId, spec);
    const [, pid] = await torchNode.waitFor(new RegExp(`run ${runId}: torch process (\\d+) started`));
    const [, step] = await torchNode.waitFor(new RegExp(`run ${runId}: checkpoint of step (\\d+) stored`), 60_000);
    process.kill(Number(pid), "SIGKILL");
    const failed = await outcome(torchNode, runId);
    expect(failed[0]).toMatch(/failed on this attempt: The torch process was killed by SIGKILL before it finished\./);
    await torchNode.waitFor(new RegExp(`leased run ${runId} \\(LORA, attempt 2 of 3\\) on engine torch`));
    const [, resumedFrom] = await torchNode.waitFor(new RegExp(`run ${runId}: resuming from the checkpoint of step (\\d+)`));
    expect(Number(resumedFrom)).toBeGreaterThanOrEqual(Number(step));
    await torchNode.waitFor(new RegExp(`run ${runId} succeeded: model version \\w+`), 120_000);
    expect(torchNode.output().match(new RegExp(`run ${runId} failed on this attempt`, "g"))).toHaveLength(1);
    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, attempts: true, engine: true, summary: true } });
    expect(run).toMatchObject({ status: "SUCCEEDED", attempts: 2, engine: "torch", summary: { steps: 24, resumedFromStep: Number(resumedFrom), attempt: 2 } });
    expect(await db.modelVersion.count({ where: { runId } })).toBe(1);
    const losses = await db.runMetric.findMany({ where: { runId, name: "loss" }, orderBy: { step: "asc" }, select: { step: true } });
    expect(losses.map((l) => l.step)).toEqual(Array.from({ length: 24 }, (_, i) => i + 1));
  }, 180_000);

  it("a cancel kills the Python process group within seconds and the run ends CANCELLED", async () => {
    const runId = await loraRun(pairsVersionId, { ...SPEC, steps: 500, checkpointEvery: 100 });
    const [, pid] = await torchNode.waitFor(new RegExp(`run ${runId}: torch process (\\d+) started`));
    await torchNode.waitFor(new RegExp(`run ${runId}: step 2/500`), 60_000);
    await callerFor(db, f.users.EDITOR).run.transition({ runId, status: "CANCELLED" });
    await torchNode.waitFor(new RegExp(`run ${runId} cancelled at step \\d+`), 15_000);
    const alive = () => {
      try {
        process.kill(Number(pid), 0);
        return true;
      } catch {
        return false;
      }
    };
    // how fast it goes is the bench's business; here: it goes, and nothing is registered
    await expect.poll(alive, { timeout: 30_000 }).toBe(false);
    expect((await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true } })).status).toBe("CANCELLED");
    expect(await db.modelVersion.count({ where: { runId } })).toBe(0);
  }, 60_000);

  it("a torch process that stops making progress (stopped with SIGSTOP) fails the attempt; the next resumes from the checkpoint and finishes once", async () => {
    await torchNode.kill("SIGTERM");
    const node = startNodeProcess({ serverUrl, token: await token("stall"), name: unique("stall"), args: ["--no-serve", "--engines", "torch", "--python", oraclePython()], env: { HEARTH_TORCH_STALL_SECONDS: "6" } });
    others.push(node);
    const runId = await loraRun(pairsVersionId, { ...SPEC, steps: 12, checkpointEvery: 3, lora: { rank: 4, alpha: 8 } });
    const [, pid] = await node.waitFor(new RegExp(`run ${runId}: torch process (\\d+) started`));
    await node.waitFor(new RegExp(`run ${runId}: checkpoint of step 3 stored`), 60_000);
    process.kill(Number(pid), "SIGSTOP");
    const failed = await node.waitFor(new RegExp(`run ${runId} failed on this attempt: [^\\n]*`), 60_000);
    expect(failed[0]).toMatch(/The torch process made no progress for 6 s \(HEARTH_TORCH_STALL_SECONDS\) and was stopped\./);
    await node.waitFor(new RegExp(`leased run ${runId} \\(LORA, attempt 2 of 3\\) on engine torch`));
    await node.waitFor(new RegExp(`run ${runId} succeeded: model version \\w+`), 120_000);
    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, attempts: true } });
    expect(run).toEqual({ status: "SUCCEEDED", attempts: 2 });
    expect(await db.modelVersion.count({ where: { runId } })).toBe(1);
    const losses = await db.runMetric.findMany({ where: { runId, name: "loss" }, orderBy: { step: "asc" }, select: { step: true } });
    expect(losses.map((l) => l.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  }, 180_000);
});
