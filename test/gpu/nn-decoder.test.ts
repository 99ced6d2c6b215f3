// The decoder against its float64 CPU reference (no Python needed): logits of llama, mistral with a
// sliding window and qwen2 with biases from bf16 folders; full fine-tuning and LoRA gradients
// against finite differences of the reference loss; steady-state steps allocate nothing; AdamW.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { Decoder } from "../../gpu/nn/decoder";
import { decoderForwardRef, decoderLossRef, type LoraRef } from "../../gpu/nn/decoder-reference";
import type { DecoderConfig } from "../../gpu/nn/hf-config";
import { nodeFolderReader } from "../../gpu/io/folder-node";
import { writeTinyLlamaFolder } from "../support/tiny-hf-folder";
import { expectClose, gpuContext, rng } from "./helpers";

let ctx: GpuContext;
let root = "";
const B = 2;
const T = 7;

const VARIANTS = {
  llama: {},
  mistral: { model_type: "mistral", sliding_window: 3, tie_word_embeddings: false, num_key_value_heads: 1 },
  qwen2: { model_type: "qwen2", tie_word_embeddings: false, rope_parameters: { rope_type: "llama3", rope_theta: 10000, factor: 4, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8 } },
} as const;

beforeAll(async () => {
  ctx = await gpuContext();
  root = mkdtempSync(path.join(tmpdir(), "hearth-decoder-"));
});
afterAll(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

async function load(variant: keyof typeof VARIANTS, precision: "16bit" | "f32" = "16bit") {
  const dir = path.join(root, variant);
  const config = writeTinyLlamaFolder(dir, { config: VARIANTS[variant] as Record<string, unknown>, seed: variant.length });
  const m = await Decoder.fromHF(ctx, nodeFolderReader(dir), { precision });
  const weights = new Map<string, Float64Array>();
  for (const name of m.params.keys()) weights.set(name, Float64Array.from(await m.readParameter(name)));
  return { m, config, weights };
}

function batch(V: number) {
  const r = rng(11);
  const toks = Int32Array.from({ length: B * (T + 1) }, () => Math.floor(r() * V));
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) {
    x[b * T + t] = toks[b * (T + 1) + t];
    y[b * T + t] = toks[b * (T + 1) + t + 1];
  }
  return { x, y };
}

/** d loss / d w[name][i] by central differences of the float64 reference. */
function fd(config: DecoderConfig, w: Map<string, Float64Array>, name: string, i: number, x: Int32Array, y: Int32Array, lora?: LoraRef, h = 1e-4): number {
  const t = w.get(name)!;
  const keep = t[i];
  t[i] = keep + h;
  const up = decoderLossRef(config, w, x, y, B, T, lora);
  t[i] = keep - h;
  const down = decoderLossRef(config, w, x, y, B, T, lora);
  t[i] = keep;
  return (up - down) / (2 * h);
}

describe.each(Object.keys(VARIANTS) as Array<keyof typeof VARIANTS>)("decoder (%s, bf16 folder)", (variant) => {
  it("logits match the float64 reference with the weights kept 16-bit", async () => {
    const { m, config, weights } = await load(variant);
    expect([...m.params.values()].some((p) => "half" in p)).toBe(true);
    const { x } = batch(config.vocabSize);
    const tx = ctx.tensor(x, [B, T], "i32");
    const logits = m.logits(tx);
    expectClose(await ctx.read(logits), decoderForwardRef(config, weights, x, B, T), "logits", 1e-4, 1e-4);
    logits.release();
    tx.release();
    m.release();
  });

  it("full fine-tuning gradients (f32 master weights) match finite differences", async () => {
    const { m, config, weights } = await load(variant, "f32");
    m.enableTraining();
    const { x, y } = batch(config.vocabSize);
    const tx = ctx.tensor(x, [B, T], "i32");
    const ty = ctx.tensor(y, [B * T], "i32");
    const loss = m.trainBatch(tx, ty, 1 / (B * T));
    const [l] = await ctx.readMany([loss]);
    expect(l[0]).toBeCloseTo(decoderLossRef(config, weights, x, y, B, T), 4);
    const grads = await m.readGradients();
    const r = rng(3);
    for (const name of grads.keys()) {
      const g = grads.get(name)!;
      for (let s = 0; s < 2; s++) {
        const i = Math.floor(r() * g.length);
        const want = fd(config, weights, name, i, x, y);
        expect(Math.abs(g[i] - want), `${name}[${i}]: ${g[i]} vs ${want}`).toBeLessThan(2e-4 + 1e-2 * Math.abs(want));
      }
    }
    for (const t of [loss, tx, ty]) t.release();
    m.release();
  });

  it.each([0, 0.3])("LoRA on a 16-bit base (dropout %s): adapter gradients match finite differences, the base gets none", async (dropout) => {
    const { m, config, weights } = await load(variant);
    const r = rng(5);
    const lw = new Map<string, Float32Array>();
    const cfg = { r: 2, alpha: 6, dropout, targets: ["q_proj", "v_proj", "o_proj", "down_proj"] as const };
    for (let l = 0; l < config.nLayer; l++) {
      for (const t of cfg.targets) {
        const mod = `model.layers.${l}.${t === "down_proj" ? "mlp" : "self_attn"}.${t}`;
        const [out, inp] = m.params.get(`${mod}.weight`)!.shape;
        lw.set(`${mod}.lora_A`, Float32Array.from({ length: cfg.r * inp }, () => r() - 0.5));
        lw.set(`${mod}.lora_B`, Float32Array.from({ length: out * cfg.r }, () => r() - 0.5));
      }
    }
    m.attachLora({ ...cfg, targets: [...cfg.targets] }, { weights: lw });
    m.enableTraining();
    for (const [k, v] of lw) weights.set(k, Float64Array.from(v));
    const { x, y } = batch(config.vocabSize);
    const tx = ctx.tensor(x, [B, T], "i32");
    const ty = ctx.tensor(y, [B * T], "i32");
    m.beginStep(3, 0);
    m.trainBatch(tx, ty, 1 / (B * T)).release();
    const grads = await m.readGradients();
    expect([...grads.keys()].sort()).toEqual([...lw.keys()].sort());
    const lora: LoraRef = { scale: cfg.alpha / cfg.r, dropout: (mod) => m.dropoutFor(mod) };
    if (dropout) {
      // dropout is on only while training: the loss without it differs from the dropped one
      const plain = decoderLossRef(config, weights, x, y, B, T, { scale: lora.scale });
      expect(Math.abs(plain - decoderLossRef(config, weights, x, y, B, T, lora))).toBeGreaterThan(1e-4);
      const ml = m.meanLoss(tx, ty);
      expect((await ctx.read(ml))[0]).toBeCloseTo(plain, 4);
      ml.release();
    }
    for (const name of grads.keys()) {
      const g = grads.get(name)!;
      const i = Math.floor(r() * g.length);
      const want = fd(config, weights, name, i, x, y, lora);
      expect(Math.abs(g[i] - want), `${name}[${i}]: ${g[i]} vs ${want}`).toBeLessThan(2e-4 + 1e-2 * Math.abs(want));
    }
    tx.release();
    ty.release();
    m.release();
  });
});

describe("decoder rotary table", () => {
  it("grows past its first 256 positions for a longer sequence and stays exact", async () => {
    const dir = path.join(root, "long");
    const config = writeTinyLlamaFolder(dir, { config: { max_position_embeddings: 512 } });
    const m = await Decoder.fromHF(ctx, nodeFolderReader(dir));
    expect(m.rope.maxPositions).toBe(256);
    const L = 300;
    const x = Int32Array.from({ length: L }, (_, i) => (i * 7) % config.vocabSize);
    const tx = ctx.tensor(x, [1, L], "i32");
    const logits = m.logits(tx);
    expect(m.rope.maxPositions).toBe(512);
    const weights = new Map<string, Float64Array>();
    for (const name of m.params.keys()) weights.set(name, Float64Array.from(await m.readParameter(name)));
    const want = decoderForwardRef(config, weights, x, 1, L);
    expectClose(await ctx.read(logits), want, "logits", 2e-4, 1e-4);
    logits.release();
    tx.release();
    m.release();
  });
});

describe("decoder generation", () => {
  it("greedy and seeded sampling agree with and without the key/value cache; stop sequences stop", async () => {
    const { m } = await load("mistral");
    const prompt = [3, 14, 15, 9, 2];
    const greedy = await m.generateGreedy(prompt, 12);
    expect(await m.generateGreedy(prompt, 12, { kvCache: false })).toEqual(greedy);
    const sampled = await m.generate(prompt, { maxNewTokens: 12, temperature: 0.9, topK: 20, seed: 4 });
    expect(await m.generate(prompt, { maxNewTokens: 12, temperature: 0.9, topK: 20, seed: 4, kvCache: false })).toEqual(sampled);
    const stop = greedy.slice(3, 5);
    const cut = await m.generate(prompt, { maxNewTokens: 12, temperature: 0, stopTokens: [stop] });
    expect(cut.slice(-2)).toEqual(stop);
    expect(cut.length).toBeLessThanOrEqual(5);
    m.release();
  });
});

describe("decoder training steps", () => {
  it("activation recomputation gives the same gradients (LoRA with dropout) with a lower peak of memory", async () => {
    const { m, config } = await load("llama");
    m.attachLora({ r: 4, alpha: 8, dropout: 0.2, targets: ["q_proj", "v_proj", "down_proj"] }, { seed: 2 });
    m.enableTraining();
    const Tl = 24;
    const r = rng(4);
    const tx = ctx.tensor(Int32Array.from({ length: 2 * Tl }, () => Math.floor(r() * config.vocabSize)), [2, Tl], "i32");
    const ty = ctx.tensor(Int32Array.from({ length: 2 * Tl }, () => Math.floor(r() * config.vocabSize)), [2 * Tl], "i32");
    const run = async (recompute: boolean) => {
      m.recompute = recompute;
      m.zeroGrads();
      await ctx.readMany([]);
      ctx.pool.resetPeak();
      const before = ctx.pool.getStats().bytesInUse;
      m.beginStep(5, 1);
      const loss = m.trainBatch(tx, ty, 1 / (2 * Tl));
      const [l] = await ctx.readMany([loss]);
      loss.release();
      return { loss: l[0], grads: await m.readGradients(), peak: ctx.pool.getStats().peakBytesInUse - before };
    };
    const full = await run(false);
    const re = await run(true);
    expect(re.loss).toBe(full.loss);
    for (const [name, g] of full.grads) expect([...re.grads.get(name)!], name).toEqual([...g]);
    expect(re.peak).toBeLessThan(full.peak);
    tx.release();
    ty.release();
    m.release();
  });

  it("allocate nothing in steady state, and AdamW lowers the loss", async () => {
    const { m, config } = await load("llama", "f32");
    m.enableTraining();
    const { x, y } = batch(config.vocabSize);
    const tx = ctx.tensor(x, [B, T], "i32");
    const ty = ctx.tensor(y, [B * T], "i32");
    const losses: number[] = [];
    let created = 0;
    for (let step = 1; step <= 6; step++) {
      m.zeroGrads();
      const loss = m.trainBatch(tx, ty, 1 / (B * T));
      m.adamwStep(step, { lr: 3e-3, weightDecay: 0.01 });
      losses.push((await ctx.read(loss))[0]);
      loss.release();
      if (step === 2) created = ctx.pool.getStats().created;
    }
    expect(ctx.pool.getStats().created).toBe(created);
    expect(losses[5]).toBeLessThan(losses[0]);
    tx.release();
    ty.release();
    m.release();
  });
});
