// Pre-training on a token stream: seeded random batches, AdamW with warm-up + cosine decay,
// global-norm clipping, gradient accumulation, periodic validation, pause/resume/cancel.
// Each step is recorded and submitted without waiting; the loss is read back every logEvery steps.

import { adamw } from "../ops/adamw";
import { accumulate } from "../ops/elementwise";
import { globalGradNorm } from "../ops/reduce";
import type { Tensor } from "../tensor";
import type { GpuContext } from "../device";
import { mulberry32 } from "../nn/config";
import type { AnyWeight } from "../ops/weight16";

/** What the loop needs of a model: Hearth's GPT and the Hugging Face Decoder both have it. */
export interface TrainableModel {
  readonly ctx: GpuContext;
  readonly params: ReadonlyMap<string, Tensor | AnyWeight>;
  readonly grads: ReadonlyMap<string, Tensor>;
  readonly m: ReadonlyMap<string, Tensor>;
  readonly v: ReadonlyMap<string, Tensor>;
  /** Vocabulary size and the longest sequence the model takes. */
  readonly vocabSize: number;
  readonly contextLength: number;
  trainableNames(): string[];
  enableTraining(): void;
  zeroGrads(): void;
  /** Whether AdamW's weight decay applies to this parameter. */
  weightDecays(name: string): boolean;
  trainBatch(tokens: Tensor, targets: Tensor, gradScale: number, lossScale?: number): Tensor;
  meanLoss(tokens: Tensor, targets: Tensor): Tensor;
  /** Optimizer step about to run: seeds what is random per step (LoRA dropout). */
  beginStep?(step: number, micro: number): void;
}

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
  /** Resume: optimizer steps already done (the model holds their weights and AdamW moments). The
   * schedule and the batch stream continue exactly where they stopped. */
  startStep?: number;
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

/** Where training batches come from: x and y are [B*T] token ids, y < 0 where no loss is taken. */
export interface BatchSource {
  readonly batchSize: number;
  readonly seqLen: number;
  next(): { x: Int32Array; y: Int32Array; targets: number };
  /** Skips n batches exactly as next() would have drawn them (for resuming). */
  skip(n: number): void;
}

/** Random windows of a token stream: x = tokens[o .. o+T), y = tokens[o+1 .. o+T+1). Seeded. */
export class BatchSampler implements BatchSource {
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
  next(): { x: Int32Array; y: Int32Array; targets: number } {
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
    return { x, y, targets: B * T };
  }
  skip(n: number): void {
    for (let i = 0; i < n * this.batchSize; i++) this.rand();
  }
}

/** One supervised example: the loss is taken on the response tokens only. */
export interface SftExample {
  prompt: number[];
  response: number[];
}

/**
 * Batches of supervised examples drawn at random (seeded), each left-aligned in its row: x holds the
 * example's tokens (padding after), y the next token where the loss applies and -1 elsewhere. A
 * subclass says how one example fills its row and how many targets it gave.
 */
export abstract class ExampleSampler<E> implements BatchSource {
  private readonly rand: () => number;
  constructor(
    readonly examples: readonly E[],
    readonly batchSize: number,
    readonly seqLen: number,
    seed: number,
    readonly padToken = 0,
  ) {
    this.rand = mulberry32(seed);
  }
  /** Writes example e into x and y from offset `at` (seqLen slots); returns the targets written. */
  protected abstract fillRow(e: E, x: Int32Array, y: Int32Array, at: number): number;
  next(): { x: Int32Array; y: Int32Array; targets: number } {
    const { batchSize: B, seqLen: T } = this;
    const x = new Int32Array(B * T).fill(this.padToken);
    const y = new Int32Array(B * T).fill(-1);
    let targets = 0;
    for (let b = 0; b < B; b++) targets += this.fillRow(this.examples[Math.floor(this.rand() * this.examples.length)], x, y, b * T);
    return { x, y, targets };
  }
  skip(n: number): void {
    for (let i = 0; i < n * this.batchSize; i++) this.rand();
  }
}

/**
 * Prompt/response examples: y = the next token where it belongs to the response. Examples longer
 * than T + 1 tokens keep their prompt's end and as much response as fits.
 */
export class SftSampler extends ExampleSampler<SftExample> {
  constructor(examples: readonly SftExample[], batchSize: number, seqLen: number, seed: number, padToken = 0) {
    if (!examples.some((e) => e.response.length > 0)) throw new Error("SftSampler: no example has response tokens");
    super(examples, batchSize, seqLen, seed, padToken);
  }
  protected fillRow(e: SftExample, x: Int32Array, y: Int32Array, at: number): number {
    const T = this.seqLen;
    // Keep at most T + 1 tokens: the response first (up to T), then as much of the prompt's end as fits.
    const response = e.response.slice(0, T);
    const prompt = e.prompt.slice(Math.max(0, e.prompt.length - (T + 1 - response.length)));
    const seq = [...prompt, ...response];
    let targets = 0;
    for (let t = 0; t + 1 < seq.length; t++) {
      x[at + t] = seq[t];
      if (t + 1 >= prompt.length) {
        y[at + t] = seq[t + 1];
        targets++;
      }
    }
    return targets;
  }
}

function asSource(data: ArrayLike<number> | BatchSource, B: number, T: number, seed: number): BatchSource {
  if (isBatchSource(data)) {
    if (data.batchSize !== B || data.seqLen !== T) throw new Error(`train: the batch source yields [${data.batchSize}, ${data.seqLen}], the config asks for [${B}, ${T}]`);
    return data;
  }
  return new BatchSampler(data, B, T, seed);
}

function isBatchSource(d: ArrayLike<number> | BatchSource): d is BatchSource {
  return typeof (d as BatchSource).next === "function";
}

export interface TrainHooks {
  onStep?: (m: StepMetrics) => void | Promise<void>;
  control?: TrainControl;
}

const yieldToEvents = () => new Promise<void>((r) => setTimeout(r, 0));

/**
 * Trains `model` for config.steps optimizer steps (from config.startStep when resuming). Data is a
 * token stream (pre-training windows) or a BatchSource (e.g. SftSampler); token streams are checked
 * against the vocabulary up front.
 */
export async function train(model: TrainableModel, data: { train: ArrayLike<number> | BatchSource; val?: ArrayLike<number> | BatchSource }, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  // Keys given as undefined keep their defaults.
  const c = { ...TRAIN_DEFAULTS, ...(Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as TrainConfig) };
  const ctx = model.ctx;
  const T = c.seqLen ?? model.contextLength;
  const B = c.batchSize;
  const vocab = model.vocabSize;
  for (const [name, s] of [["train", data.train], ["val", data.val]] as const) {
    if (!s || isBatchSource(s)) continue;
    for (let i = 0; i < s.length; i++) if (!(s[i] >= 0 && s[i] < vocab)) throw new Error(`train: ${name} token ${i} is ${s[i]}, outside the model's vocabulary of ${vocab}`);
  }
  model.enableTraining();
  const startStep = c.startStep ?? 0;
  if (!Number.isInteger(startStep) || startStep < 0 || startStep > c.steps) throw new Error(`train: startStep ${startStep} is outside 0..${c.steps}`);
  const sampler = asSource(data.train, B, T, c.seed);
  sampler.skip(startStep * c.gradAccum);
  const micro = Array.from({ length: c.gradAccum }, () => ({ x: ctx.empty([B, T], "i32"), y: ctx.empty([B * T], "i32") }));
  const lossAcc = ctx.zeros([1]);
  const names = model.trainableNames();
  const grads = names.map((n) => model.grads.get(n)!);
  // Validation batches are fixed once, so successive validation losses are comparable.
  const valBatches: Array<{ x: Tensor; y: Tensor; targets: number }> = [];
  if (data.val && c.evalEvery > 0) {
    const vs = asSource(data.val, B, T, c.seed + 7919);
    for (let i = 0; i < c.evalBatches; i++) {
      const { x, y, targets } = vs.next();
      valBatches.push({ x: ctx.tensor(x, [B, T], "i32"), y: ctx.tensor(y, [B * T], "i32"), targets });
    }
  }
  const result: TrainResult = { status: "completed", steps: startStep, losses: [], valLosses: [] };
  const start = performance.now();
  try {
    for (let step = startStep; step < c.steps; step++) {
      await hooks.control?.untilRunnable();
      if (hooks.control?.cancelled) {
        result.status = "cancelled";
        break;
      }
      ctx.flush();
      const submits = ctx.submits;
      let targets = 0;
      for (const m of micro) {
        const batch = sampler.next();
        ctx.write(m.x, batch.x);
        ctx.write(m.y, batch.y);
        targets += batch.targets;
      }
      model.zeroGrads();
      ctx.clear(lossAcc);
      // Mean over the tokens that carry a loss (all of them when pre-training; responses in SFT).
      const scale = 1 / Math.max(1, targets);
      for (const [i, m] of micro.entries()) {
        model.beginStep?.(step, i);
        const loss = model.trainBatch(m.x, m.y, scale);
        accumulate(ctx, lossAcc, loss);
        loss.release();
      }
      const lr = learningRate(step, c);
      const norm = globalGradNorm(ctx, grads, c.gradClip);
      names.forEach((n, i) => {
        const slot = { param: model.params.get(n) as Tensor, grad: grads[i], m: model.m.get(n)!, v: model.v.get(n)! };
        adamw(ctx, slot, step + 1, { lr, beta1: c.beta1, beta2: c.beta2, weightDecay: model.weightDecays(n) ? c.weightDecay : 0 }, norm.scale);
      });
      norm.norm.release();
      norm.scale.release();
      const last = step === c.steps - 1;
      const metrics: StepMetrics = { step: step + 1, lr, tokens: (step + 1 - startStep) * B * T * c.gradAccum, elapsedMs: 0, submits: 0 };
      if ((step + 1) % c.logEvery === 0 || last || step === startStep) {
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
export async function validationLoss(model: Pick<TrainableModel, "ctx" | "meanLoss">, batches: Array<{ x: Tensor; y: Tensor; targets?: number }>): Promise<number> {
  const ctx = model.ctx;
  const acc = ctx.zeros([1]);
  const total = batches.reduce((n, b) => n + (b.targets ?? b.x.size), 0);
  for (const b of batches) {
    // meanLoss averages over all B*T positions (ignored ones count 0): reweight to a mean over targets.
    const l = model.meanLoss(b.x, b.y);
    accumulate(ctx, acc, l, b.x.size / Math.max(1, total));
    l.release();
  }
  const [v] = await ctx.readMany([acc]);
  acc.release();
  return v[0];
}
