// The decoder (gpu/nn/decoder.ts) held to Hugging Face's own code: tiny random checkpoints made by
// transformers 5.18 and 4.57 (decoder_fixtures.py, weights scaled x3 so differences show), loaded
// from their folders, compared on logits, greedy tokens, one fine-tuning step's loss and gradients,
// and a LoRA step against peft (init_lora_weights=False). GPT-2 folders load through importHFGPT2.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { Decoder } from "../../gpu/nn/decoder";
import { parseHFConfig, type DecoderConfig } from "../../gpu/nn/hf-config";
import { nodeFolderReader } from "../../gpu/io/folder-node";
import { streamHFFolder, type StreamedTensor } from "../../gpu/io/hf-folder";
import { decodeSafetensors, f16ToF32, f32ToF16, toFloat32, type SafetensorsFile } from "../../gpu/io/safetensors";
import { exportPeftAdapter, loadHFFolder, loadPeftAdapter } from "../../gpu/nn/hf-load";
import { gpuContext } from "../gpu/helpers";
import { oracleOrSkip, runOracle } from "../support/oracle";

const oracle = oracleOrSkip();
let dir = "";
let ctx: GpuContext;
const made: Record<string, string> = {};

/** Max |a - e| relative to max |e|, and the cosine similarity. */
function compare(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  let maxDiff = 0;
  let maxRef = 0;
  let dot = 0;
  let na = 0;
  let ne = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
    dot += actual[i] * expected[i];
    na += actual[i] * actual[i];
    ne += expected[i] * expected[i];
  }
  const cos = na === 0 && ne === 0 ? 1 : dot / Math.sqrt(na * ne);
  return { maxDiff, rel: maxRef === 0 ? maxDiff : maxDiff / maxRef, cos };
}

interface Ref {
  file: SafetensorsFile;
  f(name: string): Float32Array;
  i(name: string): Int32Array;
  has(name: string): boolean;
  names: string[];
  meta: { greedy_min_gap: number; lora_r?: number; lora_alpha?: number; lora_targets?: string[] };
}

function ref(model: string): Ref {
  const file = decodeSafetensors(new Uint8Array(readFileSync(path.join(made[model], "ref.safetensors"))));
  return {
    file,
    f: (n) => toFloat32(n, file.tensors.get(n)!),
    i: (n) => {
      const t = file.tensors.get(n)!;
      return new Int32Array(t.bytes.slice().buffer);
    },
    has: (n) => file.tensors.has(n),
    names: [...file.tensors.keys()],
    meta: JSON.parse(file.metadata.meta),
  };
}

const B = 2;
const T = 12;

function inputsOf(ctx: GpuContext, r: Ref) {
  const all = r.i("tokens");
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      x[b * T + t] = all[b * (T + 1) + t];
      y[b * T + t] = all[b * (T + 1) + t + 1];
    }
  }
  return { x: ctx.tensor(x, [B, T], "i32"), y: ctx.tensor(y, [B * T], "i32") };
}

const report: string[] = [];

describe.skipIf(!oracle)("decoder vs transformers", () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hearth-decoder-oracle-"));
    runOracle("decoder_fixtures.py", [path.join(dir, "v5")]);
    runOracle("decoder_fixtures.py", [path.join(dir, "v4"), "--transformers4"], { transformers4: true });
    for (const m of ["llama_gqa_tied", "mistral_sliding", "llama3_bf16", "qwen2_sliding_layers", "gpt2"]) made[m] = path.join(dir, "v5", m);
    for (const m of ["qwen2_bias_untied", "llama_linear_f16"]) made[m] = path.join(dir, "v4", m);
    ctx = await gpuContext();
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (report.length) console.log(["decoder oracle, measured:", ...report].join("\n  "));
  });

  const decoders = [
    ["llama_gqa_tied", "llama, grouped-query attention (4 heads, 2 kv), tied head, transformers 5"],
    ["mistral_sliding", "mistral, multi-query, sliding window 5 < 12 tokens, sharded folder, transformers 5"],
    ["qwen2_bias_untied", "qwen2, q/k/v biases, untied head, transformers 4.57 config"],
    ["llama3_bf16", "llama, llama3 rope scaling, bf16 checkpoint kept 16-bit, transformers 5"],
    ["llama_linear_f16", "llama, linear rope scaling, f16 checkpoint, attention and MLP biases, transformers 4.57"],
    ["qwen2_sliding_layers", "qwen2, sliding window 4 on layers >= max_window_layers 1 only, tied head, transformers 5"],
  ] as const;

  describe.each(decoders)("%s (%s)", (name) => {
    it("logits within 1e-4 of transformers (16-bit weights against transformers in f32 on the same rounded weights)", async () => {
      const r = ref(name);
      const m = await Decoder.fromHF(ctx, nodeFolderReader(made[name]));
      if (name === "qwen2_sliding_layers") expect(m.config.layerWindows).toEqual([null, 4]);
      const { x, y } = inputsOf(ctx, r);
      const logits = m.logits(x);
      const got = (await ctx.read(logits)) as Float32Array;
      const c = compare(got, r.f("logits"));
      report.push(`${name}: logits max |diff| ${c.maxDiff.toExponential(2)}`);
      expect(c.maxDiff).toBeLessThan(1e-4);
      for (const t of [logits, x, y]) t.release();
      m.release();
    });

    it("greedy generation of 32 tokens is identical (with and without the key/value cache)", async () => {
      const r = ref(name);
      const m = await Decoder.fromHF(ctx, nodeFolderReader(made[name]));
      const want = Array.from(r.i("greedy"));
      expect(await m.generateGreedy(Array.from(r.i("prompt")), 32), "with the key/value cache").toEqual(want);
      expect(await m.generateGreedy(Array.from(r.i("prompt")), 32, { kvCache: false }), "re-running the context").toEqual(want);
      m.release();
    });

    it("one full fine-tuning step: loss within 1e-5, every gradient within 1e-3 of its largest value, cosine >= 0.9999", async () => {
      const r = ref(name);
      const m = await Decoder.fromHF(ctx, nodeFolderReader(made[name]), { precision: "f32" });
      m.enableTraining();
      const { x, y } = inputsOf(ctx, r);
      const loss = m.trainBatch(x, y, 1 / (B * T));
      const [l] = await ctx.readMany([loss]);
      const grads = await m.readGradients();
      const want = r.names.filter((n) => n.startsWith("grad.")).map((n) => n.slice(5));
      expect([...grads.keys()].sort()).toEqual(want.sort());
      let worst = { rel: 0, cos: 1, name: "" };
      for (const n of want) {
        const c = compare(grads.get(n)!, r.f("grad." + n));
        expect(c.rel, n).toBeLessThan(1e-3);
        expect(c.cos, n).toBeGreaterThan(0.9999);
        if (c.rel > worst.rel) worst = { ...c, name: n };
      }
      const dl = Math.abs(l[0] - r.f("loss")[0]);
      report.push(`${name}: loss |diff| ${dl.toExponential(2)}; worst gradient ${worst.name} rel ${worst.rel.toExponential(2)}, cos ${worst.cos.toFixed(7)}`);
      expect(dl).toBeLessThan(1e-5);
      for (const t of [loss, x, y]) t.release();
      m.release();
    });

    it("one LoRA step matches peft (init_lora_weights=False): loss and every adapter gradient", async () => {
      const r = ref(name);
      const m = await Decoder.fromHF(ctx, nodeFolderReader(made[name]));
      const weights = new Map<string, Float32Array>();
      for (const n of r.names) if (n.startsWith("lora.")) weights.set(n.slice(5), r.f(n));
      m.attachLora({ r: r.meta.lora_r!, alpha: r.meta.lora_alpha!, targets: r.meta.lora_targets as never }, { weights });
      m.enableTraining();
      const { x, y } = inputsOf(ctx, r);
      const loss = m.trainBatch(x, y, 1 / (B * T));
      const [l] = await ctx.readMany([loss]);
      const grads = await m.readGradients();
      expect([...grads.keys()].sort()).toEqual([...weights.keys()].sort());
      let worst = { rel: 0, cos: 1, name: "" };
      for (const n of weights.keys()) {
        const c = compare(grads.get(n)!, r.f("lora_grad." + n));
        expect(c.rel, n).toBeLessThan(1e-3);
        expect(c.cos, n).toBeGreaterThan(0.9999);
        if (c.rel > worst.rel) worst = { ...c, name: n };
      }
      const dl = Math.abs(l[0] - r.f("lora_loss")[0]);
      report.push(`${name}: LoRA loss |diff| ${dl.toExponential(2)}; worst adapter gradient ${worst.name} rel ${worst.rel.toExponential(2)}, cos ${worst.cos.toFixed(7)}`);
      expect(dl).toBeLessThan(1e-5);
      for (const t of [loss, x, y]) t.release();
      m.release();
    });
  });

  it.each(["llama3_bf16", "mistral_sliding", "llama_linear_f16"])("%s: an unmodified import exports bit-identical tensors", async (name) => {
    const m = await Decoder.fromHF(ctx, nodeFolderReader(made[name]));
    const out = decodeSafetensors(await m.exportSafetensors());
    let n = 0;
    for await (const t of streamHFFolder(nodeFolderReader(made[name]))) {
      const e = out.tensors.get(t.name);
      expect(e, t.name).toBeDefined();
      expect(e!.dtype, t.name).toBe(t.dtype);
      expect(e!.shape).toEqual(t.shape);
      expect(Buffer.from(e!.bytes).equals(Buffer.from(t.bytes)), `${t.name} bytes`).toBe(true);
      n++;
    }
    expect(out.tensors.size).toBe(n);
    m.release();
  });

  it("an f32 checkpoint converted to f16 at load: the same as f32 weights rounded to f16 first, and close to transformers", async () => {
    const r = ref("llama_gqa_tied");
    const m = await Decoder.fromHF(ctx, nodeFolderReader(made.llama_gqa_tied), { f32Weights: "f16" });
    expect([...m.params.values()].some((p) => "half" in p && p.half === "f16")).toBe(true);
    // the same weights rounded on the host, kept f32
    const cfg = parseHFConfig(readFileSync(path.join(made.llama_gqa_tied, "config.json"), "utf8")) as DecoderConfig;
    const rounded: StreamedTensor[] = [];
    for await (const t of streamHFFolder(nodeFolderReader(made.llama_gqa_tied))) {
      if (t.shape.length !== 2) {
        rounded.push(t);
        continue;
      }
      const f = new Float32Array(t.bytes.slice().buffer);
      const g = Float32Array.from(f, (v) => f16ToF32(f32ToF16(v)));
      rounded.push({ ...t, bytes: new Uint8Array(g.buffer) });
    }
    const m32 = await Decoder.fromTensors(ctx, cfg, rounded, { precision: "f32" });
    const { x, y } = inputsOf(ctx, r);
    const a = m.logits(x);
    const b = m32.logits(x);
    const [la, lb] = (await ctx.readMany([a, b])) as Float32Array[];
    const same = compare(la, lb);
    const hf = compare(la, r.f("logits"));
    report.push(`llama_gqa_tied as f16: logits max |diff| ${same.maxDiff.toExponential(2)} from f32 on the rounded weights; ${hf.maxDiff.toExponential(2)} from transformers on the unrounded ones`);
    expect(same.maxDiff).toBeLessThan(1e-4);
    expect(hf.cos).toBeGreaterThan(0.9999);
    for (const t of [a, b, x, y]) t.release();
    m.release();
    m32.release();
  });

  it("a peft adapter folder (save_pretrained) loads, gives peft's loss, and exports bit-identical tensors", async () => {
    const r = ref("mistral_sliding");
    const loaded = await loadHFFolder(ctx, nodeFolderReader(made.mistral_sliding));
    if (loaded.kind !== "decoder") throw new Error("expected a decoder");
    const m = loaded.model;
    const adapterDir = path.join(made.mistral_sliding, "adapter");
    const cfg = await loadPeftAdapter(m, nodeFolderReader(adapterDir));
    expect(cfg).toMatchObject({ r: 4, alpha: 8 });
    const { x, y } = inputsOf(ctx, r);
    m.enableTraining();
    const loss = m.trainBatch(x, y, 1 / (B * T));
    const [l] = await ctx.readMany([loss]);
    expect(Math.abs(l[0] - r.f("lora_loss")[0])).toBeLessThan(1e-5);
    const out = await exportPeftAdapter(m);
    const mine = decodeSafetensors(out["adapter_model.safetensors"]);
    const theirs = decodeSafetensors(new Uint8Array(readFileSync(path.join(adapterDir, "adapter_model.safetensors"))));
    expect([...mine.tensors.keys()].sort()).toEqual([...theirs.tensors.keys()].sort());
    for (const [k, t] of theirs.tensors) expect(Buffer.from(mine.tensors.get(k)!.bytes).equals(Buffer.from(t.bytes)), k).toBe(true);
    expect(JSON.parse(out["adapter_config.json"])).toMatchObject({ peft_type: "LORA", r: 4, lora_alpha: 8 });
    for (const t of [loss, x, y]) t.release();
    m.release();
  });

  describe("gpt2 folder made by transformers, through importHFGPT2", () => {
    async function load() {
      const loaded = await loadHFFolder(ctx, nodeFolderReader(made.gpt2));
      if (loaded.kind !== "gpt2") throw new Error(`loaded a ${loaded.kind}`);
      return loaded;
    }

    it("logits within 1e-4 and greedy tokens identical", async () => {
      const r = ref("gpt2");
      const { model } = await load();
      const { x, y } = inputsOf(ctx, r);
      const logits = model.logits(x);
      const c = compare((await ctx.read(logits)) as Float32Array, r.f("logits"));
      report.push(`gpt2: logits max |diff| ${c.maxDiff.toExponential(2)}`);
      expect(c.maxDiff).toBeLessThan(1e-4);
      const seq = Array.from(r.i("prompt"));
      const got: number[] = [];
      for (let i = 0; i < 32; i++) {
        const t = ctx.tensor(Int32Array.from(seq), [1, seq.length], "i32");
        const lg = model.logits(t);
        const row = ((await ctx.read(lg)) as Float32Array).subarray((seq.length - 1) * 128);
        let best = 0;
        for (let v = 1; v < row.length; v++) if (row[v] > row[best]) best = v;
        seq.push(best);
        got.push(best);
        t.release();
        lg.release();
      }
      expect(got).toEqual(Array.from(r.i("greedy")));
      for (const t of [logits, x, y]) t.release();
      model.release();
    });

    it("one fine-tuning step: loss and gradients (Conv1D weights [in, out], as GPT stores them)", async () => {
      const r = ref("gpt2");
      const { model } = await load();
      model.enableTraining();
      const { x, y } = inputsOf(ctx, r);
      const loss = model.trainBatch(x, y, 1 / (B * T));
      const [l] = await ctx.readMany([loss]);
      const grads = await model.readGradients();
      let worst = { rel: 0, cos: 1, name: "" };
      for (const [n, g] of grads) {
        const hf = `grad.transformer.${n}`;
        expect(r.has(hf), hf).toBe(true);
        const c = compare(g, r.f(hf));
        expect(c.rel, n).toBeLessThan(1e-3);
        expect(c.cos, n).toBeGreaterThan(0.9999);
        if (c.rel > worst.rel) worst = { ...c, name: n };
      }
      const dl = Math.abs(l[0] - r.f("loss")[0]);
      report.push(`gpt2: loss |diff| ${dl.toExponential(2)}; worst gradient ${worst.name} rel ${worst.rel.toExponential(2)}, cos ${worst.cos.toFixed(7)}`);
      expect(dl).toBeLessThan(1e-5);
      for (const t of [loss, x, y]) t.release();
      model.release();
    });
  });
});
