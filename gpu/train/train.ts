// Pre-training on a token stream: seeded random batches, AdamW with warm-up + cosine decay,
// global-norm clipping, gradient accumulation, periodic validation, pause/resume/cancel.
// Each step is recorded and submitted without waiting; the loss is read back every logEvery steps.

import { adamw } from "../ops/adamw";
import { accumulate } from "../ops/elementwise";
import { globalGradNorm } from "../ops/reduce";
import type { Tensor } from "../tensor";
import { decays, mulberry32 } from "../nn/config";
import type { GPT } from "../nn/gpt";

export interface TrainConfig {
  steps: number;
  batchSize: number;
  /** Tokens per sequence; defaults to the model's blockSize. */
  seqLen?: number;
  /** Micro-batches per optimizer step. */
  gradAccum?: number;
  lr: number;
  /** Floor of the cosine decay; default lr / 10. */
  minLr?: number;
  warmupSteps?: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  /** Global gradient-norm clip; Infinity disables. */
  gradClip?: number;
  /** Read the training loss back every N steps (and at the last step). */
  logEvery?: number;
  /** Validation loss every N steps (and at the end) when validation tokens are given; 0 disables. */
  evalEvery?: number;
  evalBatches?: number;
  seed?: number;
}

export const TRAIN_DEFAULTS = { gradAccum: 1, warmupSteps: 0, weightDecay: 0.1, beta1: 0.9, beta2: 0.95, gradClip: 1.0, logEvery: 10, evalEvery: 0, evalBatches: 4, seed: 1 };

export interface StepMetrics {
  step: number;
  lr: number;
  /** Present on steps whose loss was read back. */
  loss?: number;
  valLoss?: number;
  tokens: number;
  elapsedMs: number;
  /** Command-buffer submits recorded by this step (1 unless the context's batch limit split it). */
  submits: number;
}

export interface TrainResult {
  status: "completed" | "cancelled";
  steps: number;
  losses: Array<{ step: number; loss: number }>;
  valLosses: Array<{ step: number; loss: number }>;
}

/** Pause, resume and cancel a running loop from outside (UI, worker message, signal). */
export class TrainControl {
  private pausedWith: { promise: Promise<void>; resolve: () => void } | null = null;
  private cancelledFlag = false;

  constructor(signal?: { aborted: boolean; addEventListener(type: "abort", fn: () => void): void }) {
    if (signal?.aborted) this.cancelledFlag = true;
    signal?.addEventListener("abort", () => this.cancel());
  }
  get paused(): boolean {
    return this.pausedWith !== null;
  }
  get cancelled(): boolean {
    return this.cancelledFlag;
  }
  pause(): void {
    if (this.pausedWith || this.cancelledFlag) return;
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.pausedWith = { promise, resolve };
  }
  resume(): void {
    const p = this.pausedWith;
    this.pausedWith = null;
    p?.resolve();
  }
  cancel(): void {
    this.cancelledFlag = true;
    this.resume();
  }
  /** Resolves when not paused (immediately if running). */
  async untilRunnable(): Promise<void> {
    while (this.pausedWith) await this.pausedWith.promise;
  }
}

/** Learning rate at step (0-based): linear warm-up, then cosine decay to minLr at the last step. */
export function learningRate(step: number, c: Pick<TrainConfig, "lr" | "minLr" | "warmupSteps" | "steps">): number {
  const warm = c.warmupSteps ?? 0;
  const minLr = c.minLr ?? c.lr / 10;
  if (step < warm) return (c.lr * (step + 1)) / warm;
  const span = Math.max(1, c.steps - warm);
  const ratio = Math.min(1, (step - warm) / span);
  return minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (c.lr - minLr);
}

/** Random windows of a token stream: x = tokens[o .. o+T), y = tokens[o+1 .. o+T+1). Seeded. */
export class BatchSampler {
  private readonly rand: () => number;
  constructor(
    readonly tokens: ArrayLike<number>,
    readonly batchSize: number,
    readonly seqLen: number,
    seed: number,
  ) {
    if (tokens.length < seqLen + 1) throw new Error(`BatchSampler: ${tokens.length} tokens are fewer than one sequence of ${seqLen} + 1`);
    this.rand = mulberry32(seed);
  }
  next(): { x: Int32Array; y: Int32Array } {
    const { batchSize: B, seqLen: T, tokens } = this;
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const o = Math.floor(this.rand() * (tokens.length - T));
      for (let t = 0; t < T; t++) {
        x[b * T + t] = tokens[o + t];
        y[b * T + t] = tokens[o + t + 1];
      }
    }
    return { x, y };
  }
}

export interface TrainHooks {
  onStep?: (m: StepMetrics) => void | Promise<void>;
  control?: TrainControl;
}

const yieldToEvents = () => new Promise<void>((r) => setTimeout(r, 0));

export async function train(model: GPT, data: { train: ArrayLike<number>; val?: ArrayLike<number> }, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const c = { ...TRAIN_DEFAULTS, ...config };
  const ctx = model.ctx;
  const T = c.seqLen ?? model.config.blockSize;
  const B = c.batchSize;
  const vocab = model.config.vocabSize;
  for (const [name, s] of [["train", data.train], ["val", data.val]] as const) {
    if (!s) continue;
    for (let i = 0; i < s.length; i++) if (!(s[i] >= 0 && s[i] < vocab)) throw new Error(`train: ${name} token ${i} is ${s[i]}, outside the model's vocabulary of ${vocab}`);
  }
  model.enableTraining();
  const sampler = new BatchSampler(data.train, B, T, c.seed);
  const micro = Array.from({ length: c.gradAccum }, () => ({ x: ctx.empty([B, T], "i32"), y: ctx.empty([B * T], "i32") }));
  const lossAcc = ctx.zeros([1]);
  const names = model.trainableNames();
  const grads = names.map((n) => model.grads.get(n)!);
  // Validation batches are fixed once, so successive validation losses are comparable.
  const valBatches: Array<{ x: Tensor; y: Tensor }> = [];
  if (data.val && c.evalEvery > 0) {
    const vs = new BatchSampler(data.val, B, T, c.seed + 7919);
    for (let i = 0; i < c.evalBatches; i++) {
      const { x, y } = vs.next();
      valBatches.push({ x: ctx.tensor(x, [B, T], "i32"), y: ctx.tensor(y, [B * T], "i32") });
    }
  }
  const result: TrainResult = { status: "completed", steps: 0, losses: [], valLosses: [] };
  const start = performance.now();
  try {
    for (let step = 0; step < c.steps; step++) {
      await hooks.control?.untilRunnable();
      if (hooks.control?.cancelled) {
        result.status = "cancelled";
        break;
      }
      ctx.flush();
      const submits = ctx.submits;
      for (const m of micro) {
        const { x, y } = sampler.next();
        ctx.write(m.x, x);
        ctx.write(m.y, y);
      }
      model.zeroGrads();
      ctx.clear(lossAcc);
      const scale = 1 / (B * T * c.gradAccum);
      for (const m of micro) {
        const loss = model.trainBatch(m.x, m.y, scale);
        accumulate(ctx, lossAcc, loss);
        loss.release();
      }
      const lr = learningRate(step, c);
      const norm = globalGradNorm(ctx, grads, c.gradClip);
      names.forEach((n, i) => {
        const slot = { param: model.params.get(n)!, grad: grads[i], m: model.m.get(n)!, v: model.v.get(n)! };
        adamw(ctx, slot, step + 1, { lr, beta1: c.beta1, beta2: c.beta2, weightDecay: decays(n) ? c.weightDecay : 0 }, norm.scale);
      });
      norm.norm.release();
      norm.scale.release();
      const last = step === c.steps - 1;
      const metrics: StepMetrics = { step: step + 1, lr, tokens: (step + 1) * B * T * c.gradAccum, elapsedMs: 0, submits: 0 };
      if ((step + 1) % c.logEvery === 0 || last || step === 0) {
        const [l] = await ctx.readMany([lossAcc]);
        metrics.loss = l[0];
        result.losses.push({ step: step + 1, loss: l[0] });
      } else ctx.flush();
      metrics.submits = ctx.submits - submits;
      if (valBatches.length && ((step + 1) % c.evalEvery === 0 || last)) {
        metrics.valLoss = await validationLoss(model, valBatches);
        result.valLosses.push({ step: step + 1, loss: metrics.valLoss });
      }
      result.steps = step + 1;
      metrics.elapsedMs = performance.now() - start;
      await hooks.onStep?.(metrics);
      await yieldToEvents();
    }
  } finally {
    for (const m of micro) {
      m.x.release();
      m.y.release();
    }
    for (const v of valBatches) {
      v.x.release();
      v.y.release();
    }
    lossAcc.release();
  }
  return result;
}

/** Mean loss over fixed batches: one submit, one readback. */
export async function validationLoss(model: GPT, batches: Array<{ x: Tensor; y: Tensor }>): Promise<number> {
  const ctx = model.ctx;
  const acc = ctx.zeros([1]);
  for (const b of batches) {
    const l = model.meanLoss(b.x, b.y);
    accumulate(ctx, acc, l, 1 / batches.length);
    l.release();
  }
  const [v] = await ctx.readMany([acc]);
  acc.release();
  return v[0];
}
