// Decoder benchmarks on Dawn/Node: (1) GFLOP/s of the 16-bit-weight products (y = x W^T, dx = dy W
// with W bf16 or f16) against the f32 matmul on the same shapes, (2) one SmolLM2-135M-shaped block's
// forward and forward+backward time split by kernel (timestamp queries), f32 master weights
// (full fine-tuning) and bf16 base weights with LoRA.
// Browser-safe: test/bench/decoder.bench.ts runs it in Node (Dawn) and in headless Chromium.

import { matmul, tuneEngine, selectMatmulVariantsFor, type GpuContext } from "../../gpu/index";
import { linear16, linear16BackwardInput, uploadWeight16, type Linear16Variant } from "../../gpu/ops/weight16";
import { f32ToF16 } from "../../gpu/io/safetensors";
import { Decoder } from "../../gpu/nn/decoder";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "../../gpu/nn/hf-config";
import type { StreamedTensor } from "../../gpu/io/hf-folder";
import { timeIt } from "./shapes";

const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
const BUDGET_MS = Number(env.BENCH_BUDGET_MS ?? 1500);
/** Tokens per step (B x T); SmolLM2 trains at 2048, a CPU adapter needs fewer. */
const TOKENS = Number(env.BENCH_DECODER_TOKENS ?? 128);

const SMOLLM2_LAYER = {
  model_type: "llama",
  vocab_size: 512, // the real 49152-row head would dominate a one-layer profile
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 1,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  max_position_embeddings: 2048,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
};

const fill = (n: number, s = 0.05) => Float32Array.from({ length: n }, (_, i) => (((i * 7919) % 23) / 23 - 0.5) * s);
const bf16 = (f: Float32Array) => Uint16Array.from(new Uint32Array(f.buffer), (u) => u >>> 16);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("")).join("\n");
}

async function products(ctx: GpuContext): Promise<void> {
  const N = TOKENS;
  const shapes: Array<[string, number, number]> = [
    ["q_proj / o_proj", 576, 576],
    ["k_proj / v_proj", 192, 576],
    ["gate_proj / up_proj", 1536, 576],
    ["down_proj", 576, 1536],
  ];
  await selectMatmulVariantsFor(ctx, shapes.flatMap(([, out, inp]) => [{ M: N, N: out, K: inp, transB: true }, { M: N, N: inp, K: out }]));
  const rows: string[][] = [];
  for (const [name, out, inp] of shapes) {
    const wf = fill(out * inp);
    const W = ctx.tensor(wf, [out, inp]);
    const Wb = uploadWeight16(ctx, bf16(wf), [out, inp], "bf16");
    const Wh = uploadWeight16(ctx, Uint16Array.from(wf, f32ToF16), [out, inp], "f16");
    const x = ctx.tensor(fill(N * inp, 1), [N, inp]);
    const dy = ctx.tensor(fill(N * out, 1), [N, out]);
    const y = ctx.empty([N, out]);
    const dx = ctx.empty([N, inp]);
    const gf = (ms: number) => ((2 * N * out * inp) / ms / 1e6).toFixed(2);
    const t = (f: () => void) => timeIt(f, () => ctx.sync(), BUDGET_MS);
    const fwd32 = await t(() => void matmul(ctx, x, W, { transB: true, out: y }));
    const bwd32 = await t(() => void matmul(ctx, dy, W, { out: dx }));
    const row = [`${name} ${N}x${out}x${inp}`, gf(fwd32), gf(bwd32)];
    for (const variant of ["fused", "unpack"] as Linear16Variant[]) {
      for (const w of [Wb, Wh]) {
        row.push(gf(await t(() => void linear16(ctx, x, w, { out: y, variant }))));
        row.push(gf(await t(() => void linear16BackwardInput(ctx, dy, w, { out: dx, variant }))));
      }
    }
    rows.push(row);
    for (const r of [W, Wb, Wh, x, dy, y, dx]) r.release();
  }
  console.log(`\n## 16-bit-weight products vs f32 (GFLOP/s, ${N} tokens, SmolLM2-135M layer shapes)`);
  console.log(table(["product", "fwd f32", "dx f32", "fused bf16 fwd", "dx", "fused f16 fwd", "dx", "unpack bf16 fwd", "dx", "unpack f16 fwd", "dx"], rows));
}

function randomLayer(config: DecoderConfig): StreamedTensor[] {
  return decoderTensorShapes(config).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const f = name.endsWith("norm.weight") ? new Float32Array(n).fill(1) : fill(n);
    return { name, dtype: "BF16" as const, shape, bytes: new Uint8Array(bf16(f).buffer), file: "" };
  });
}

async function blockProfile(ctx: GpuContext): Promise<void> {
  const config = parseHFConfig(SMOLLM2_LAYER) as DecoderConfig;
  const T = TOKENS;
  const tokens = ctx.tensor(Int32Array.from({ length: T }, (_, i) => (i * 31) % config.vocabSize), [1, T], "i32");
  const targets = ctx.tensor(Int32Array.from({ length: T }, (_, i) => (i * 17) % config.vocabSize), [T], "i32");
  for (const mode of ["f32 master weights (full fine-tuning)", "bf16 base + LoRA r=8 on q,k,v,o"] as const) {
    const full = mode.startsWith("f32");
    const m = await Decoder.fromTensors(ctx, config, randomLayer(config), { precision: full ? "f32" : "16bit" });
    if (!full) m.attachLora({ r: 8, alpha: 16, targets: ["q_proj", "k_proj", "v_proj", "o_proj"] });
    m.enableTraining();
    await m.tune(1, T);
    const fwd = () => m.logits(tokens).release();
    const step = () => m.trainBatch(tokens, targets, 1 / T).release();
    const fwdMs = await timeIt(fwd, () => ctx.sync(), BUDGET_MS, 10);
    const stepMs = await timeIt(step, () => ctx.sync(), BUDGET_MS, 10);
    console.log(`\n## one SmolLM2-135M-shaped block (+ embedding, norm and a ${config.vocabSize}-row head), ${T} tokens, ${mode}`);
    console.log(`forward ${fwdMs.toFixed(1)} ms, forward + backward ${stepMs.toFixed(1)} ms (backward ${(stepMs - fwdMs).toFixed(1)} ms)`);
    if (!ctx.features.timestampQuery) {
      console.log("(no timestamp-query feature on this adapter: no per-kernel split)");
    } else {
      const split = async (run: () => void) => {
        ctx.startProfile();
        run();
        return ctx.stopProfile();
      };
      const f = await split(fwd);
      const s = await split(step);
      const byName = new Map<string, { f: number; s: number; n: number }>();
      for (const k of f) byName.set(k.name, { f: k.ms, s: 0, n: 0 });
      for (const k of s) {
        const e = byName.get(k.name) ?? { f: 0, s: 0, n: 0 };
        e.s = k.ms;
        e.n = k.dispatches;
        byName.set(k.name, e);
      }
      const rows = [...byName].sort((a, b) => b[1].s - a[1].s).map(([name, e]) => [name, e.f.toFixed(3), Math.max(0, e.s - e.f).toFixed(3), String(e.n)]);
      const sum = (k: "f" | "s") => [...byName.values()].reduce((a, e) => a + e[k], 0);
      rows.push(["total (GPU)", sum("f").toFixed(3), (sum("s") - sum("f")).toFixed(3), ""]);
      console.log(table(["kernel", "forward ms", "backward ms", "dispatches/step"], rows));
    }
    m.release();
  }
  tokens.release();
  targets.release();
}

/** Both figures on one context (Node's Dawn or a page's navigator.gpu). */
export async function decoderFigures(ctx: GpuContext): Promise<void> {
  await tuneEngine(ctx);
  console.log(`adapter: ${ctx.report.adapter.vendor} ${ctx.report.adapter.architecture}`);
  await products(ctx);
  await blockProfile(ctx);
}
