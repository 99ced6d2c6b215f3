// Fine-tuning an imported Hugging Face folder with runTrainJob, held to transformers and peft: a tiny
// llama made by transformers (hf_folder.py: bf16, sharded, byte-level BPE, chat template) is LoRA
// fine-tuned on chat pairs through its template; the loss falls and greedy answers move toward the
// targets; the folder Hearth gives back loads in transformers with logits within 1e-4 of Hearth's,
// its adapter loads in peft on the parent with outputs within 1e-4; an untrained export is
// bit-identical; a resumed run ends bit for bit where an uninterrupted one does; full fine-tuning
// and continued pre-training run on the same folder.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { decodeSafetensors } from "../../gpu/io/safetensors";
import { readFolderFiles, writeFolderFiles } from "../../gpu/io/folder-node";
import { memoryFolderReader, readTar, writeTar } from "../../gpu/io/tar";
import { Decoder } from "../../gpu/nn/decoder";
import { loadFolderTokenizer, loadPeftAdapter } from "../../gpu/nn/hf-load";
import { exportDecoderFolder } from "../../gpu/train/decoder-job";
import { runTrainJob, type TrainJobSpec } from "../../gpu/train/job";
import type { HfTokenizer } from "../../gpu/tokenizer/hf-tokenizer";
import { gpuContext } from "../gpu/helpers";
import { copyTinyLlamaFolder, OracleServer, oracleOrSkip, runOracle } from "../support/oracle";

const oracle = oracleOrSkip();
let ctx: GpuContext;
let dir = "";
let parentTar: Uint8Array;
let parentFiles: Map<string, Uint8Array>;
let tok: HfTokenizer;

const PAIRS = [
  { prompt: "How long do refunds take?", response: "Refunds are possible within thirty days of delivery." },
  { prompt: "How long is shipping?", response: "Shipping takes five working days." },
  { prompt: "Say hello.", response: "Hello! How can I help you today?" },
];
const DATASET = new TextEncoder().encode(PAIRS.map((p) => JSON.stringify(p)).join("\n") + "\n");
const CORPUS = new TextEncoder().encode("Refunds are possible within thirty days of delivery. Shipping takes five working days. Hello! How can I help you today? ".repeat(12));

const LORA: TrainJobSpec = { kind: "LORA", preset: "tiny", steps: 60, batchSize: 3, seqLen: 64, lr: 2e-2, checkpointEvery: 30, seed: 3, lora: { rank: 8, alpha: 16, dropout: 0.05 } };

const writeFolder = (files: Map<string, Uint8Array>, d: string) => writeFolderFiles(files, d);

function promptIds(prompt: string): number[] {
  return tok.encode(tok.applyChatTemplate([{ role: "user", content: prompt }], { addGenerationPrompt: true }), { addSpecialTokens: false });
}

let torch: OracleServer | undefined;
/** transformers' (and with an adapter, peft's) last-position logits for each id list. */
async function torchLogits(folder: string, ids: number[][], adapter?: string): Promise<number[][]> {
  torch ??= new OracleServer("hf_folder.py", ["serve"]);
  return (await torch.request<{ logits: number[][] }>({ dir: folder, ids, ...(adapter ? { adapter } : {}) })).logits;
}

async function hearthLogits(model: Decoder, ids: number[][]): Promise<number[][]> {
  const out: number[][] = [];
  for (const seq of ids) {
    const x = ctx.tensor(Int32Array.from(seq), [1, seq.length], "i32");
    const l = model.logits(x);
    const all = (await ctx.read(l)) as Float32Array;
    const V = model.config.vocabSize;
    out.push([...all.subarray((seq.length - 1) * V, seq.length * V)]);
    x.release();
    l.release();
  }
  return out;
}

function maxDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((row, i) => row.forEach((v, j) => (m = Math.max(m, Math.abs(v - b[i][j])))));
  return m;
}

/** How many of the target's first tokens the greedy answer reproduces, summed over the pairs. */
async function agreement(model: Decoder): Promise<number> {
  let n = 0;
  for (const p of PAIRS) {
    const target = tok.encode(p.response, { addSpecialTokens: false });
    const got = await model.generate(promptIds(p.prompt), { temperature: 0, maxNewTokens: target.length + 1, stopTokens: tok.stopTokenIds.map((t) => [t]) });
    let k = 0;
    while (k < target.length && got[k] === target[k]) k++;
    n += k;
  }
  return n;
}

const loadFrom = (tar: Uint8Array, precision: "16bit" | "f32" = "16bit") => Decoder.fromHF(ctx, memoryFolderReader(readTar(tar)), { precision });
const probes = () => PAIRS.map((p) => [...promptIds(p.prompt), ...tok.encode(p.response, { addSpecialTokens: false }).slice(0, 3)]);

describe.skipIf(!oracle)("fine-tuning an imported Hugging Face folder", () => {
  let lora: { artifact: Uint8Array; losses: Array<{ step: number; loss: number }>; checkpoints: Map<number, Uint8Array> };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hearth-decoder-train-"));
    copyTinyLlamaFolder(path.join(dir, "parent"));
    parentTar = writeTar(readFolderFiles(path.join(dir, "parent")));
    parentFiles = readTar(parentTar);
    tok = await loadFolderTokenizer(memoryFolderReader(parentFiles));
    ctx = await gpuContext();
    const checkpoints = new Map<number, Uint8Array>();
    const r = await runTrainJob(ctx, LORA, { dataset: DATASET, parent: parentTar }, { onCheckpoint: (step, bytes) => void checkpoints.set(step, bytes) });
    expect(r.status).toBe("completed");
    lora = { artifact: r.artifact!, losses: r.losses, checkpoints };
  }, 300_000);

  afterAll(() => {
    torch?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("an untrained export is the parent's folder with bit-identical tensors, and transformers agrees with Hearth on it", async () => {
    const model = await loadFrom(parentTar);
    const out = readTar(await exportDecoderFolder(model, parentFiles));
    for (const name of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) expect(Buffer.from(out.get(name)!).equals(Buffer.from(parentFiles.get(name)!))).toBe(true);
    const exported = decodeSafetensors(out.get("model.safetensors")!);
    const shards = [...parentFiles.keys()].filter((n) => n.endsWith(".safetensors"));
    let n = 0;
    for (const s of shards) {
      for (const [name, t] of decodeSafetensors(parentFiles.get(s)!).tensors) {
        const e = exported.tensors.get(name)!;
        expect(e.dtype).toBe(t.dtype);
        expect(Buffer.from(e.bytes).equals(Buffer.from(t.bytes)), name).toBe(true);
        n++;
      }
    }
    expect(n).toBe(exported.tensors.size);
    const folder = writeFolder(out, path.join(dir, "untrained"));
    expect(maxDiff(await hearthLogits(model, probes()), await torchLogits(folder, probes()))).toBeLessThan(1e-4);
    model.release();
  });

  it("LoRA through the chat template lowers the loss on the pairs and moves greedy answers toward the targets", async () => {
    const first = lora.losses[0].loss;
    const last = lora.losses.at(-1)!.loss;
    expect(last).toBeLessThan(first * 0.5);
    const base = await loadFrom(parentTar);
    const tuned = await loadFrom(lora.artifact);
    const [before, after] = [await agreement(base), await agreement(tuned)];
    const total = PAIRS.reduce((n, p) => n + tok.encode(p.response, { addSpecialTokens: false }).length, 0);
    expect(after, `greedy agreement ${before} -> ${after} of ${total} target tokens`).toBeGreaterThan(before + total / 3);
    base.release();
    tuned.release();
  });

  it("the merged folder loads in transformers with logits within 1e-4 of Hearth's on it; the adapter loads in peft on the parent within 1e-4", async () => {
    const files = readTar(lora.artifact);
    expect([...files.keys()]).toEqual(expect.arrayContaining(["config.json", "model.safetensors", "tokenizer.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"]));
    const adapterConfig = JSON.parse(new TextDecoder().decode(files.get("adapter/adapter_config.json")!));
    expect(adapterConfig).toMatchObject({ peft_type: "LORA", r: 8, lora_alpha: 16, lora_dropout: 0.05 });
    const folder = writeFolder(files, path.join(dir, "lora"));
    const ids = probes();
    const merged = await loadFrom(lora.artifact);
    expect(maxDiff(await hearthLogits(merged, ids), await torchLogits(folder, ids))).toBeLessThan(1e-4);
    merged.release();
    // the parent with the adapter (unmerged), in Hearth and in peft
    const base = await loadFrom(parentTar);
    await loadPeftAdapter(base, memoryFolderReader(new Map([...files].filter(([n]) => n.startsWith("adapter/")).map(([n, b]) => [n.slice("adapter/".length), b]))));
    expect(maxDiff(await hearthLogits(base, ids), await torchLogits(path.join(dir, "parent"), ids, path.join(folder, "adapter")))).toBeLessThan(1e-4);
    base.release();
  });

  it("resumes bit for bit: a run restarted from its step-30 state ends with the same folder", async () => {
    const state = lora.checkpoints.get(30)!;
    expect(state).toBeDefined();
    const steps: number[] = [];
    const r = await runTrainJob(ctx, LORA, { dataset: DATASET, parent: parentTar, resume: state }, { onStep: (m) => void steps.push(m.step) });
    expect(steps[0]).toBe(31);
    expect(r.steps).toBe(60);
    expect(Buffer.from(r.artifact!).equals(Buffer.from(lora.artifact))).toBe(true);
    await expect(runTrainJob(ctx, { ...LORA, lr: 1e-3 }, { dataset: DATASET, parent: parentTar, resume: state })).rejects.toThrow(/different training configuration/);
  });

  it("full fine-tuning (f32 master weights) and continued pre-training lower their losses and export folders transformers agrees with", async () => {
    const ids = probes();
    for (const [name, spec, data] of [
      ["sft", { kind: "SFT", preset: "tiny", steps: 20, batchSize: 3, seqLen: 40, lr: 3e-3, checkpointEvery: 20, seed: 1, exportDtype: "float32" }, DATASET],
      ["pretrain", { kind: "PRETRAIN", preset: "tiny", steps: 20, batchSize: 2, seqLen: 32, lr: 3e-3, checkpointEvery: 20, seed: 1 }, CORPUS],
    ] as const) {
      const r = await runTrainJob(ctx, spec as TrainJobSpec, { dataset: data, parent: parentTar });
      expect(r.losses.at(-1)!.loss, name).toBeLessThan(r.losses[0].loss);
      const files = readTar(r.artifact!);
      expect(files.has("adapter/adapter_config.json")).toBe(false);
      const model = await loadFrom(r.artifact!);
      expect(maxDiff(await hearthLogits(model, ids), await torchLogits(writeFolder(files, path.join(dir, name)), ids)), name).toBeLessThan(1e-4);
      model.release();
    }
  });

  it("pre-trains a llama from random weights with a tokenizer trained on the corpus; transformers loads the folder and agrees", async () => {
    const r = await runTrainJob(ctx, { kind: "PRETRAIN", architecture: "llama-tiny", vocabSize: 300, steps: 30, batchSize: 2, seqLen: 32, lr: 1e-2, checkpointEvery: 30, seed: 5 }, { dataset: CORPUS });
    expect(r.losses.at(-1)!.loss).toBeLessThan(r.losses[0].loss * 0.6);
    const files = readTar(r.artifact!);
    expect(JSON.parse(new TextDecoder().decode(files.get("config.json")!))).toMatchObject({ architectures: ["LlamaForCausalLM"], hidden_size: 64, num_hidden_layers: 2 });
    const folder = writeFolder(files, path.join(dir, "scratch"));
    const own = await loadFolderTokenizer(memoryFolderReader(files));
    const ids = ["Refunds are possible within", "Shipping takes five"].map((t) => own.encode(t));
    const model = await loadFrom(r.artifact!);
    expect(maxDiff(await hearthLogits(model, ids), await torchLogits(folder, ids))).toBeLessThan(1e-4);
    model.release();
  });

  it("refuses bad input with a message: a folder without a tokenizer, a dataset line that is not a pair, unknown LoRA targets", async () => {
    const noTok = writeTar([...parentFiles].filter(([n]) => n !== "tokenizer.json"));
    await expect(runTrainJob(ctx, LORA, { dataset: DATASET, parent: noTok })).rejects.toThrow(/no tokenizer\.json/);
    await expect(runTrainJob(ctx, LORA, { dataset: new TextEncoder().encode('{"question": "x"}\n'), parent: parentTar })).rejects.toThrow(/dataset line 1: expected/);
    await expect(runTrainJob(ctx, { ...LORA, lora: { rank: 4, alpha: 8, targets: ["c_attn"] } }, { dataset: DATASET, parent: parentTar })).rejects.toThrow(/lora\.targets: "c_attn"/);
  });
});
