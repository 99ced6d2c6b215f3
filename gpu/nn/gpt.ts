// GPT-2 architecture on the gpu/ ops: token + position embeddings, pre-LayerNorm blocks (causal
// multi-head attention, GELU MLP), final LayerNorm, output head tied to wte. Parameters,
// gradients and AdamW moments are allocated once; activations come from the pool each step and
// go back to it, so steady-state steps allocate nothing.

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { accumulate, biasAddBackward, gelu, geluBackward } from "../ops/elementwise";
import { attention, attentionBackward, attentionMatmulShapes, releaseAttention, type AttentionSaved } from "../ops/attention";
import { embedding, embeddingBackward } from "../ops/embedding";
import { layerNorm, layerNormBackward, type LayerNormResult } from "../ops/layernorm";
import { matmul, matmulBackward, selectMatmulVariantsFor, type MatmulShapeSpec } from "../ops/matmul";
import { crossEntropy, crossEntropyWithGrad } from "../ops/cross-entropy";
import { sumAll } from "../ops/reduce";
import { decays, initParameters, parameterShapes, validateConfig, type GPTConfig } from "./config";

type P = Map<string, Tensor>;

/** A low-rank adapter on one projection: y += scale * (x A) B, with A and B in the params map. */
export interface LoraAdapter {
  scale: number;
}
type Adapters = Map<string, LoraAdapter>;

interface BlockActs {
  x: Tensor;
  ln1: LayerNormResult;
  qkv: Tensor;
  att: { out: Tensor; saved: AttentionSaved };
  /** x + attention projection (the residual add happens in the projection's matmul). */
  x1: Tensor;
  ln2: LayerNormResult;
  /** MLP pre-activation and its GELU (both written by the c_fc matmul). */
  h: Tensor;
  hg: Tensor;
  /** x1 + MLP projection. */
  out: Tensor;
  /** x A per adapted projection, for the adapter's backward. */
  lora: Map<string, Tensor>;
}

/** Everything the forward saved for the backward; release() returns it to the pool. */
export interface ForwardCache {
  tokens: Tensor;
  x0: Tensor;
  blocks: BlockActs[];
  xf: Tensor;
  lnf: LayerNormResult;
  logits: Tensor;
}

function releaseLn(ln: LayerNormResult): void {
  ln.y.release();
  ln.mean.release();
  ln.rstd.release();
}

export function releaseCache(c: ForwardCache, o: { keepLogits?: boolean } = {}): void {
  c.x0.release();
  for (const b of c.blocks) {
    releaseLn(b.ln1);
    releaseLn(b.ln2);
    for (const t of [b.qkv, b.att.out, b.x1, b.h, b.hg, b.out, ...b.lora.values()]) t.release();
    releaseAttention(b.att.saved);
  }
  releaseLn(c.lnf);
  if (!o.keepLogits) c.logits.release();
}

// ---------- a projection (linear + optional LoRA), forward and backward side by side ----------

export function projForward(ctx: GpuContext, p: P, lora: Adapters, name: string, x: Tensor, saved: Map<string, Tensor>): Tensor {
  return projForwardFused(ctx, p, lora, name, x, saved).y;
}

/**
 * y = x W + b (+ the adapter's term) (+ residual), and with `gelu` also GELU(y): the bias, the
 * residual add and the GELU run in the matmul's epilogue (the GELU separately when an adapter's
 * term must be added first).
 */
function projForwardFused(ctx: GpuContext, p: P, lora: Adapters, name: string, x: Tensor, saved: Map<string, Tensor>, o: { residual?: Tensor; gelu?: boolean } = {}): { y: Tensor; g?: Tensor } {
  const ad = lora.get(name);
  const fusedGelu = o.gelu && !ad ? ctx.empty([...x.shape.slice(0, -1), p.get(`${name}.weight`)!.shape[1]], "f32", "gelu") : undefined;
  const y = matmul(ctx, x, p.get(`${name}.weight`)!, { bias: p.get(`${name}.bias`)!, residual: o.residual, geluOut: fusedGelu });
  if (!ad) return { y, g: fusedGelu };
  const xa = matmul(ctx, x, p.get(`${name}.lora_A`)!);
  const yl = matmul(ctx, xa, p.get(`${name}.lora_B`)!, { alpha: ad.scale });
  accumulate(ctx, y, yl);
  yl.release();
  saved.set(name, xa);
  return { y, g: o.gelu ? gelu(ctx, y) : undefined };
}

/**
 * Adds gradients for whichever of the projection's tensors are trainable (present in g); returns
 * dx, times GELU's slope at `geluOf` when the projection's input was GELU(geluOf) (fused into the
 * dx matmul unless an adapter's term must be added first).
 */
function projBackward(ctx: GpuContext, p: P, g: P, lora: Adapters, name: string, x: Tensor, dy: Tensor, saved: Map<string, Tensor>, o: { geluOf?: Tensor } = {}): Tensor {
  const dw = g.get(`${name}.weight`);
  const db = g.get(`${name}.bias`);
  const w = p.get(`${name}.weight`)!;
  const ad = lora.get(name);
  const dx = matmul(ctx, dy, w, { transB: true, geluGradOf: ad ? undefined : o.geluOf }).reshape(x.shape);
  if (dw) matmulBackward(ctx, x, w, dy, { into: { db: dw }, needA: false });
  if (db) biasAddBackward(ctx, dy, { into: db });
  if (ad) {
    const dB = g.get(`${name}.lora_B`);
    const dA = g.get(`${name}.lora_A`);
    const { da: dxa } = matmulBackward(ctx, saved.get(name)!, p.get(`${name}.lora_B`)!, dy, { alpha: ad.scale, into: dB ? { db: dB } : undefined, needB: !!dB });
    const { da: dxl } = matmulBackward(ctx, x, p.get(`${name}.lora_A`)!, dxa!, { into: dA ? { db: dA } : undefined, needB: !!dA });
    dxa!.release();
    accumulate(ctx, dx, dxl!);
    dxl!.release();
    if (o.geluOf) {
      const dh = geluBackward(ctx, o.geluOf, dx);
      dx.release();
      return dh;
    }
  }
  return dx;
}

/** LayerNorm backward; `residual` (the skip path's gradient) is summed into dx in the same pass. */
function lnBackward(ctx: GpuContext, g: P, name: string, x: Tensor, gamma: Tensor, saved: LayerNormResult, dy: Tensor, residual?: Tensor): Tensor {
  const dgamma = g.get(`${name}.weight`);
  const dbeta = g.get(`${name}.bias`);
  const r = layerNormBackward(ctx, x, gamma, saved, dy, { into: dgamma && dbeta ? { dgamma, dbeta } : undefined, residual });
  if (!dgamma || !dbeta) {
    r.dgamma.release();
    r.dbeta.release();
  }
  return r.dx;
}

// ---------- one block, forward and backward side by side ----------

function blockForward(ctx: GpuContext, p: P, lora: Adapters, l: number, nHead: number, x: Tensor): BlockActs {
  const w = (n: string) => p.get(`h.${l}.${n}`)!;
  const saved = new Map<string, Tensor>();
  const proj_ = (n: string, inp: Tensor, o?: { residual?: Tensor; gelu?: boolean }) => projForwardFused(ctx, p, lora, `h.${l}.${n}`, inp, saved, o);
  const ln1 = layerNorm(ctx, x, w("ln_1.weight"), w("ln_1.bias"));
  const qkv = proj_("attn.c_attn", ln1.y).y;
  const att = attention(ctx, qkv, nHead);
  const x1 = proj_("attn.c_proj", att.out, { residual: x }).y;
  const ln2 = layerNorm(ctx, x1, w("ln_2.weight"), w("ln_2.bias"));
  const { y: h, g: hg } = proj_("mlp.c_fc", ln2.y, { gelu: true });
  const out = proj_("mlp.c_proj", hg!, { residual: x1 }).y;
  return { x, ln1, qkv, att, x1, ln2, h, hg: hg!, out, lora: saved };
}

/** Adds the block's trainable gradients into g; returns dx (a new tensor; dout is consumed). */
function blockBackward(ctx: GpuContext, p: P, g: P, lora: Adapters, l: number, a: BlockActs, dout: Tensor): Tensor {
  const w = (n: string) => p.get(`h.${l}.${n}`)!;
  const projB = (n: string, inp: Tensor, dy: Tensor, o?: { geluOf?: Tensor }) => projBackward(ctx, p, g, lora, `h.${l}.${n}`, inp, dy, a.lora, o);
  const dh = projB("mlp.c_proj", a.hg, dout, { geluOf: a.h });
  const dln2 = projB("mlp.c_fc", a.ln2.y, dh);
  dh.release();
  // the residual around the MLP: its skip path adds dout
  const dx1 = lnBackward(ctx, g, `h.${l}.ln_2`, a.x1, w("ln_2.weight"), a.ln2, dln2, dout);
  dln2.release();
  dout.release();
  const datt = projB("attn.c_proj", a.att.out, dx1);
  const dqkv = attentionBackward(ctx, a.att.saved, datt);
  datt.release();
  const dln1 = projB("attn.c_attn", a.ln1.y, dqkv);
  dqkv.release();
  const dx = lnBackward(ctx, g, `h.${l}.ln_1`, a.x, w("ln_1.weight"), a.ln1, dln1, dx1);
  dln1.release();
  dx1.release();
  return dx;
}

// ---------- the model ----------

/** A block's projections as [in, out]. */
const projections = (C: number): Array<[number, number]> => [
  [C, 3 * C],
  [C, C],
  [C, 4 * C],
  [4 * C, C],
];

/** The matmul shapes of a forward pass over B x T tokens: projections, head, attention. */
export function gptForwardMatmulShapes(config: GPTConfig, B: number, T: number): MatmulShapeSpec[] {
  const { nEmbd: C, vocabSize: V, nHead } = config;
  const N = B * T;
  const [scores, mix] = attentionMatmulShapes(B, T, C, nHead);
  return [...projections(C).map(([i, o]) => ({ M: N, N: o, K: i })), { M: N, N: V, K: C, transB: true }, scores, mix];
}

/** The matmul shapes of one training step: the forward, then input and weight gradients. */
export function gptMatmulShapes(config: GPTConfig, B: number, T: number): MatmulShapeSpec[] {
  const { nEmbd: C, vocabSize: V, nHead } = config;
  const N = B * T;
  return [
    ...gptForwardMatmulShapes(config, B, T),
    ...projections(C).map(([i, o]) => ({ M: N, N: i, K: o, transB: true })),
    { M: N, N: C, K: V },
    ...projections(C).map(([i, o]) => ({ M: i, N: o, K: N, transA: true })),
    { M: V, N: C, K: N, transA: true },
    attentionMatmulShapes(B, T, C, nHead)[2],
  ];
}

/**
 * The products of one decoding step with the key/value cache (one new row: M = 1), over every cache
 * length class up to blockSize. Training shapes (M = B x T) say nothing about these: a kernel with
 * 64-row tiles that wins there wastes 63 of 64 rows here.
 */
export function gptDecodeMatmulShapes(config: GPTConfig): MatmulShapeSpec[] {
  const { nEmbd: C, vocabSize: V, nHead, blockSize } = config;
  const hd = C / nHead;
  const shapes: MatmulShapeSpec[] = [
    { M: 1, N: 3 * C, K: C },
    { M: 1, N: C, K: C },
    { M: 1, N: 4 * C, K: C },
    { M: 1, N: C, K: 4 * C },
    { M: 1, N: V, K: C, transB: true },
  ];
  for (let n = 1; n < 2 * blockSize; n *= 2) {
    const len = Math.min(n, blockSize);
    shapes.push({ M: 1, N: len, K: hd, batch: nHead, transB: true }, { M: 1, N: hd, K: len, batch: nHead });
  }
  return shapes;
}

export class GPT {
  readonly config: GPTConfig;
  readonly params: P = new Map();
  /** Allocated by enableTraining(): gradients and AdamW moments, same names as params. */
  readonly grads: P = new Map();
  readonly m: P = new Map();
  readonly v: P = new Map();
  /** LoRA adapters by projection name (e.g. "h.0.attn.c_attn"); see ./lora. */
  readonly lora: Adapters = new Map();
  /** When true only the adapters train (base parameters get no gradients). */
  frozenBase = false;
  /** The adapters' configuration when LoRA is attached (saved with checkpoints). */
  loraConfig?: { rank: number; alpha: number; targets: string[] };

  private constructor(
    readonly ctx: GpuContext,
    config: GPTConfig,
    weights: Map<string, Float32Array>,
  ) {
    this.config = validateConfig(config);
    for (const [name, shape] of parameterShapes(this.config)) {
      const data = weights.get(name);
      const n = shape.reduce((a, b) => a * b, 1);
      if (!data) throw new Error(`GPT: weights lack "${name}" ${JSON.stringify(shape)}`);
      if (data.length !== n) throw new Error(`GPT: "${name}" has ${data.length} values, expected ${JSON.stringify(shape)} = ${n}`);
      this.params.set(name, ctx.tensor(data, shape));
    }
  }

  /** A freshly initialised model (GPT-2 init from `seed`). */
  static create(ctx: GpuContext, config: GPTConfig, o: { seed?: number } = {}): GPT {
    return new GPT(ctx, config, initParameters(validateConfig(config), o.seed ?? 1337));
  }

  /** A model from host weights named as parameterShapes (e.g. a loaded checkpoint). */
  static fromWeights(ctx: GpuContext, config: GPTConfig, weights: Map<string, Float32Array>): GPT {
    return new GPT(ctx, config, weights);
  }

  get parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get contextLength(): number {
    return this.config.blockSize;
  }

  weightDecays(name: string): boolean {
    return decays(name);
  }

  /** Names of the parameters that train: all, or only the LoRA adapters when the base is frozen. */
  trainableNames(): string[] {
    const names = [...this.params.keys()];
    return this.frozenBase ? names.filter((n) => /\.lora_[AB]$/.test(n)) : names;
  }

  /** Allocates gradients and AdamW moments (zeroed) for the trainable parameters, once each. */
  enableTraining(): void {
    const want = new Set(this.trainableNames());
    for (const name of [...this.grads.keys()]) {
      if (want.has(name)) continue;
      for (const map of [this.grads, this.m, this.v]) {
        map.get(name)!.release();
        map.delete(name);
      }
    }
    for (const name of want) {
      if (this.grads.has(name)) continue;
      const shape = this.params.get(name)!.shape;
      this.grads.set(name, this.ctx.zeros(shape));
      this.m.set(name, this.ctx.zeros(shape));
      this.v.set(name, this.ctx.zeros(shape));
    }
  }

  zeroGrads(): void {
    for (const g of this.grads.values()) this.ctx.clear(g);
  }

  /**
   * Measures matmul variants on every product of a training step for batch B, length T (forward,
   * input gradients, weight gradients, attention), so each shape class gets its fastest kernel.
   * Cached per adapter; call once before training or generating.
   */
  async tune(B: number, T: number): Promise<void> {
    await selectMatmulVariantsFor(this.ctx, gptMatmulShapes(this.config, B, T));
  }

  private decodeTuned = false;
  private readonly prefillTuned = new Set<number>();

  /**
   * Measures matmul variants on the forward products of a prompt of `T` tokens (the prefill before
   * decoding), once per power-of-two length class; cached per adapter.
   */
  async tunePrefill(T: number): Promise<void> {
    const cls = Math.ceil(Math.log2(Math.max(1, T)));
    if (this.prefillTuned.has(cls)) return;
    await selectMatmulVariantsFor(this.ctx, gptForwardMatmulShapes(this.config, 1, T));
    this.prefillTuned.add(cls);
  }

  /**
   * Measures matmul variants on the shapes of decoding with the key/value cache (gptDecodeMatmulShapes).
   * generate calls it once per model when the context's kernels are tuned at all; cached per adapter.
   */
  async tuneDecode(): Promise<void> {
    if (this.decodeTuned) return;
    await selectMatmulVariantsFor(this.ctx, gptDecodeMatmulShapes(this.config));
    this.decodeTuned = true;
  }

  /** tokens [B, T] (i32, T <= blockSize) -> logits [B, T, V] plus what backward needs. */
  forward(tokens: Tensor): ForwardCache {
    const { ctx, params: p, config } = this;
    if (tokens.rank !== 2 || tokens.shape[1] > config.blockSize) {
      throw new Error(`GPT.forward: tokens must be [B, T] with T <= ${config.blockSize}, got [${tokens.shape.join(",")}]`);
    }
    const x0 = embedding(ctx, tokens, p.get("wte.weight")!, p.get("wpe.weight")!);
    const blocks: BlockActs[] = [];
    let x = x0;
    for (let l = 0; l < config.nLayer; l++) {
      const b = blockForward(ctx, p, this.lora, l, config.nHead, x);
      blocks.push(b);
      x = b.out;
    }
    const lnf = layerNorm(ctx, x, p.get("ln_f.weight")!, p.get("ln_f.bias")!);
    const logits = matmul(ctx, lnf.y, p.get("wte.weight")!, { transB: true });
    return { tokens, x0, blocks, xf: x, lnf, logits };
  }

  /** Adds every parameter gradient for upstream dlogits [B, T, V] into this.grads. */
  backward(cache: ForwardCache, dlogits: Tensor): void {
    const { ctx, params: p, grads: g, config } = this;
    if (!g.size) throw new Error("GPT.backward: call enableTraining() first");
    const wte = p.get("wte.weight")!;
    const dwte = g.get("wte.weight");
    const { da: dlnf } = matmulBackward(ctx, cache.lnf.y, wte, dlogits, { transB: true, into: dwte ? { db: dwte } : undefined, needB: !!dwte });
    let dx = lnBackward(ctx, g, "ln_f", cache.xf, p.get("ln_f.weight")!, cache.lnf, dlnf!);
    dlnf!.release();
    for (let l = config.nLayer - 1; l >= 0; l--) dx = blockBackward(ctx, p, g, this.lora, l, cache.blocks[l], dx);
    const dwpe = g.get("wpe.weight");
    if (dwte && dwpe) embeddingBackward(ctx, cache.tokens, dx, { dwte, dwpe });
    dx.release();
  }

  /**
   * Forward + backward on one batch: gradients of gradScale * sum of token losses are added into
   * this.grads. Returns [1] holding lossScale * sum of losses (caller releases).
   */
  trainBatch(tokens: Tensor, targets: Tensor, gradScale: number, lossScale = gradScale): Tensor {
    const cache = this.forward(tokens);
    const [B, T] = tokens.shape;
    const V = this.config.vocabSize;
    const { losses, dlogits } = crossEntropyWithGrad(this.ctx, cache.logits.reshape([B * T, V]), targets, gradScale);
    const loss = sumAll(this.ctx, losses, { scale: lossScale });
    losses.release();
    this.backward(cache, dlogits.reshape([B, T, V]));
    dlogits.release();
    releaseCache(cache);
    return loss;
  }

  /** [1] mean cross-entropy over targets (no gradients). */
  meanLoss(tokens: Tensor, targets: Tensor): Tensor {
    const cache = this.forward(tokens);
    const [B, T] = tokens.shape;
    const losses = crossEntropy(this.ctx, cache.logits.reshape([B * T, this.config.vocabSize]), targets);
    const loss = sumAll(this.ctx, losses, { scale: 1 / (B * T) });
    losses.release();
    releaseCache(cache);
    return loss;
  }

  /** Logits [B, T, V] for tokens [B, T] (caller releases). */
  logits(tokens: Tensor): Tensor {
    const cache = this.forward(tokens);
    releaseCache(cache, { keepLogits: true });
    return cache.logits;
  }

  async readParameters(): Promise<Map<string, Float32Array>> {
    const names = [...this.params.keys()];
    const data = await this.ctx.readMany(names.map((n) => this.params.get(n)!));
    return new Map(names.map((n, i) => [n, data[i] as Float32Array]));
  }

  async readGradients(): Promise<Map<string, Float32Array>> {
    const names = [...this.grads.keys()];
    const data = await this.ctx.readMany(names.map((n) => this.grads.get(n)!));
    return new Map(names.map((n, i) => [n, data[i] as Float32Array]));
  }

  release(): void {
    for (const map of [this.params, this.grads, this.m, this.v]) {
      for (const t of map.values()) t.release();
      map.clear();
    }
  }
}
