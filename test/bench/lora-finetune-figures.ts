// LoRA fine-tuning of a SmolLM2-135M-shaped llama on one GpuContext: random bf16 weights kept
// 16-bit and frozen, peft-style adapters (f32) on the seven projections, trained by gpu/train's
// train() (forward, cross-entropy, backward, global-norm clip, AdamW) on random token windows. The
// loop reads the loss back after every step, so each step's wall time includes the GPU's work.
//
// Measures tokens/s over timed steps after untimed warm-up steps (shader compilation), the pool's
// peak bytes in use during training (weights, adapters, gradients, AdamW moments, activations;
// not counted: uniform, staging and query buffers outside the pool), and, where the adapter has
// timestamp-query, GPU time by kernel over one more step run with profiling (each dispatch then gets
// its own pass: the split is for comparing kernels, the step is slower than unprofiled).
//
// Browser-safe: test/bench/lora-finetune.bench.ts runs it in headless Chromium (and Node's Dawn),
// test/bench/gpu-check.ts in Node on a GPU.

import { tuneEngine, type GpuContext, type KernelProfile } from "../../gpu/index";
import { Decoder, type LoraModule } from "../../gpu/nn/decoder";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "../../gpu/nn/hf-config";
import type { StreamedTensor } from "../../gpu/io/hf-folder";
import { mulberry32 } from "../../gpu/nn/config";
import { train } from "../../gpu/train/train";

export interface LoraBenchSpec {
  /** Decoder layers (SmolLM2-135M has 30). */
  layers: number;
  seqLen: number;
  batchSize: number;
  rank: number;
  alpha: number;
  /** Untimed steps first (the first compiles every pipeline). */
  warmSteps: number;
  timedSteps: number;
  /** One more step with timestamp queries (where the adapter has them) for time by kernel. */
  profile: boolean;
  /** Run the engine's and the model's kernel-variant tuning before training (as a real job does). */
  tune: boolean;
}

export interface LoraBenchFigures {
  adapter: string;
  layers: number;
  tokensPerStep: number;
  parameters: number;
  trainableParameters: number;
  /** Random weights made and uploaded; tuning; the warm-up steps. */
  loadMs: number;
  tuneMs: number;
  warmMs: number;
  stepMs: number[];
  msPerStep: number;
  tokensPerSec: number;
  submitsPerStep: number;
  dispatchesPerStep: number;
  /** Pool bytes in use once the model is loaded (base weights, adapters) and at most during training. */
  bytesAfterLoad: number;
  peakBytesInUse: number;
  /** Pool bytes held at the end (in use plus free buffers kept for reuse). */
  bytesHeld: number;
  losses: number[];
  /** Null where the adapter has no timestamp-query feature. */
  kernels: KernelProfile[] | null;
  /** Wall time of the profiled step (slower than unprofiled ones). */
  profiledStepMs: number | null;
}

export const SMOLLM2_135M = {
  model_type: "llama",
  vocab_size: 49152,
  hidden_size: 576,
  intermediate_size: 1536,
  num_hidden_layers: 30,
  num_attention_heads: 9,
  num_key_value_heads: 3,
  head_dim: 64,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-5,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
};

export const LORA_TARGETS: LoraModule[] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

export const DEFAULT_LORA_SPEC: LoraBenchSpec = { layers: 30, seqLen: 256, batchSize: 1, rank: 8, alpha: 16, warmSteps: 1, timedSteps: 2, profile: true, tune: true };

const bf16Bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0] >>> 16;

/** bf16 tensors of a random-looking decoder: norms 1, everything else uniform-ish in +-0.05 (seeded). */
function* randomBf16Weights(config: DecoderConfig, seed = 1): Generator<StreamedTensor> {
  const rand = mulberry32(seed);
  // a table of 4096 bf16 values and a random walk over it: fast for 135M values, no periodic pattern
  const table = Uint16Array.from({ length: 4096 }, () => bf16Bits((rand() - 0.5) * 0.1));
  const one = bf16Bits(1);
  for (const [name, shape] of decoderTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(n);
    if (name.endsWith("norm.weight")) bits.fill(one);
    else {
      let s = (Math.floor(rand() * 2 ** 32) | 1) >>> 0;
      for (let i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >>> 17;
        s ^= s << 5;
        bits[i] = table[(s >>> 0) & 4095];
      }
    }
    yield { name, dtype: "BF16", shape, bytes: new Uint8Array(bits.buffer), file: "" };
  }
}

/** Runs the benchmark on ctx; `log` gets progress lines. The model is released at the end. */
export async function loraFinetuneFigures(ctx: GpuContext, spec: LoraBenchSpec, log: (line: string) => void = () => {}): Promise<LoraBenchFigures> {
  const config = parseHFConfig({ ...SMOLLM2_135M, num_hidden_layers: spec.layers }) as DecoderConfig;
  const adapter = [ctx.report.adapter.vendor, ctx.report.adapter.architecture, ctx.report.adapter.description].filter(Boolean).join(" ");
  const T = spec.seqLen;
  const B = spec.batchSize;
  const t0 = performance.now();
  const m = await Decoder.fromTensors(ctx, config, randomBf16Weights(config), { precision: "16bit" });
  try {
    m.attachLora({ r: spec.rank, alpha: spec.alpha, targets: LORA_TARGETS, dropout: 0 });
    const parameters = m.parameterCount;
    const trainableParameters = m.trainableNames().reduce((n, k) => n + m.params.get(k)!.size, 0);
    await ctx.sync();
    const loadMs = performance.now() - t0;
    log(`loaded ${spec.layers} layers (${(parameters / 1e6).toFixed(1)}M bf16 parameters, ${trainableParameters} LoRA) in ${(loadMs / 1000).toFixed(1)} s`);
    const t1 = performance.now();
    if (spec.tune) {
      await tuneEngine(ctx);
      const t2 = performance.now();
      await m.tune(B, T);
      log(`tuned kernel variants: the engine's in ${((t2 - t1) / 1000).toFixed(1)} s, this model's products (Decoder.tune) in ${((performance.now() - t2) / 1000).toFixed(1)} s`);
    }
    const tuneMs = performance.now() - t1;

    const rand = mulberry32(2);
    const stream = Int32Array.from({ length: 16 * T + 1 }, () => Math.floor(rand() * config.vocabSize));
    const steps = spec.warmSteps + spec.timedSteps + (spec.profile && ctx.features.timestampQuery ? 1 : 0);
    const ends: number[] = [];
    const submits: number[] = [];
    const dispatches: number[] = [];
    const losses: number[] = [];
    let profiling = false;
    const bytesAfterLoad = ctx.pool.getStats().bytesInUse;
    ctx.pool.resetPeak();
    const start = performance.now();
    ends.push(start);
    submits.push(ctx.submits);
    dispatches.push(ctx.dispatches);
    await train(
      m,
      { train: stream },
      { steps, batchSize: B, seqLen: T, lr: 1e-4, warmupSteps: 0, weightDecay: 0, beta1: 0.9, beta2: 0.95, gradClip: 1, logEvery: 1, seed: 3 },
      {
        onStep: (s) => {
          ends.push(start + s.elapsedMs);
          submits.push(ctx.submits);
          dispatches.push(ctx.dispatches);
          if (s.loss !== undefined) losses.push(s.loss);
          const ms = ends[ends.length - 1] - ends[ends.length - 2];
          const kind = s.step <= spec.warmSteps ? "warm-up" : s.step <= spec.warmSteps + spec.timedSteps ? "timed" : "profiled";
          log(`step ${s.step}/${steps} (${kind}) ${(ms / 1000).toFixed(2)} s, loss ${s.loss?.toFixed(4)}`);
          if (s.step === spec.warmSteps + spec.timedSteps && steps > s.step) {
            ctx.startProfile();
            profiling = true;
          }
        },
      },
    );
    const kernels = profiling ? await ctx.stopProfile() : null;
    const stats = ctx.pool.getStats();
    const w = spec.warmSteps;
    const stepMs = ends.slice(w + 1, w + 1 + spec.timedSteps).map((e, i) => e - ends[w + i]);
    const total = stepMs.reduce((a, b) => a + b, 0);
    const per = (c: number[]) => (c[w + spec.timedSteps] - c[w]) / Math.max(1, spec.timedSteps);
    return {
      adapter,
      layers: spec.layers,
      tokensPerStep: B * T,
      parameters,
      trainableParameters,
      loadMs,
      tuneMs,
      warmMs: ends[w] - ends[0],
      stepMs,
      msPerStep: total / Math.max(1, stepMs.length),
      tokensPerSec: (B * T * stepMs.length) / (total / 1000),
      submitsPerStep: per(submits),
      dispatchesPerStep: per(dispatches),
      bytesAfterLoad,
      peakBytesInUse: stats.peakBytesInUse,
      bytesHeld: stats.bytesHeld,
      losses,
      kernels,
      profiledStepMs: profiling ? ends[ends.length - 1] - ends[ends.length - 2] : null,
    };
  } finally {
    m.release();
  }
}

// ---------- printing (shared by the bench and the GPU check) ----------

export const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("")).join("\n");
}

/** Kernel table: the top `top` kernels by GPU time over the profiled step, the rest summed. */
export function kernelTable(kernels: KernelProfile[], top = 15): string {
  const total = kernels.reduce((a, k) => a + k.ms, 0);
  const rows = kernels.slice(0, top).map((k) => [k.name, k.ms.toFixed(1), `${((100 * k.ms) / total).toFixed(1)}%`, String(k.dispatches)]);
  const rest = kernels.slice(top);
  if (rest.length) {
    const ms = rest.reduce((a, k) => a + k.ms, 0);
    rows.push([`(${rest.length} others)`, ms.toFixed(1), `${((100 * ms) / total).toFixed(1)}%`, String(rest.reduce((a, k) => a + k.dispatches, 0))]);
  }
  rows.push(["total (GPU)", total.toFixed(1), "100%", String(kernels.reduce((a, k) => a + k.dispatches, 0))]);
  return table(["kernel", "ms/step", "share", "dispatches"], rows);
}

/** The median of step times (a shared machine's load spikes skew the mean). */
export function medianMs(ms: number[]): number {
  const s = [...ms].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export function describeFigures(f: LoraBenchFigures): string {
  const lines = [
    `adapter: ${f.adapter}`,
    `${f.layers} layers, ${(f.parameters / 1e6).toFixed(1)}M bf16 parameters frozen, ${(f.trainableParameters / 1e6).toFixed(2)}M LoRA parameters (f32), ${f.tokensPerStep} tokens/step`,
    `load ${(f.loadMs / 1000).toFixed(1)} s, tuning ${(f.tuneMs / 1000).toFixed(1)} s, warm-up ${(f.warmMs / 1000).toFixed(1)} s; ` +
      `timed steps (${f.stepMs.length}): ${f.stepMs.map((ms) => (ms / 1000).toFixed(2)).join(", ")} s`,
    `${f.tokensPerSec.toFixed(1)} tokens/s (${f.msPerStep.toFixed(0)} ms/step; by the median step ${((1000 * f.tokensPerStep) / medianMs(f.stepMs)).toFixed(1)}), ${f.submitsPerStep.toFixed(1)} submits and ${f.dispatchesPerStep.toFixed(0)} dispatches per step`,
    `GPU memory (pool): ${mib(f.bytesAfterLoad)} in use after load (bf16 base + adapters), peak ${mib(f.peakBytesInUse)} in use while training, ${mib(f.bytesHeld)} held at the end`,
    `loss: ${f.losses.map((l) => l.toFixed(4)).join(" -> ")}`,
  ];
  if (f.kernels) lines.push(`GPU time by kernel over one profiled step (wall ${((f.profiledStepMs ?? 0) / 1000).toFixed(2)} s with a pass per dispatch):`, kernelTable(f.kernels));
  else lines.push("(no timestamp-query feature on this adapter: no time by kernel)");
  return lines.join("\n");
}
