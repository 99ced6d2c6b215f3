// GPT-2 architecture on the gpu/ ops: token + position embeddings, pre-LayerNorm blocks (causal
// multi-head attention, GELU MLP), final LayerNorm, output head tied to wte. Parameters,
// gradients and AdamW moments are allocated once; activations come from the pool each step and
// go back to it, so steady-state steps allocate nothing.

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { accumulate, add, gelu, geluBackward } from "../ops/elementwise";
import { linear, linearBackward } from "../ops/linear";
import { attention, attentionBackward, attentionMatmulShapes, releaseAttention, type AttentionSaved } from "../ops/attention";
import { embedding, embeddingBackward } from "../ops/embedding";
import { layerNorm, layerNormBackward, type LayerNormResult } from "../ops/layernorm";
import { matmul, matmulBackward, selectMatmulVariantsFor, type MatmulShapeSpec } from "../ops/matmul";
import { crossEntropy, crossEntropyWithGrad } from "../ops/cross-entropy";
import { sumAll } from "../ops/reduce";
import { initParameters, parameterShapes, validateConfig, type GPTConfig } from "./config";

type P = Map<string, Tensor>;

interface BlockActs {
  x: Tensor;
  ln1: LayerNormResult;
  qkv: Tensor;
  att: { out: Tensor; saved: AttentionSaved };
  proj: Tensor;
  x1: Tensor;
  ln2: LayerNormResult;
  h: Tensor;
  hg: Tensor;
  mlp: Tensor;
  out: Tensor;
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
    for (const t of [b.qkv, b.att.out, b.proj, b.x1, b.h, b.hg, b.mlp, b.out]) t.release();
    releaseAttention(b.att.saved);
  }
  releaseLn(c.lnf);
  if (!o.keepLogits) c.logits.release();
}

// ---------- one block, forward and backward side by side ----------

function blockForward(ctx: GpuContext, p: P, l: number, nHead: number, x: Tensor): BlockActs {
  const w = (n: string) => p.get(`h.${l}.${n}`)!;
  const ln1 = layerNorm(ctx, x, w("ln_1.weight"), w("ln_1.bias"));
  const qkv = linear(ctx, ln1.y, w("attn.c_attn.weight"), w("attn.c_attn.bias"));
  const att = attention(ctx, qkv, nHead);
  const proj = linear(ctx, att.out, w("attn.c_proj.weight"), w("attn.c_proj.bias"));
  const x1 = add(ctx, x, proj);
  const ln2 = layerNorm(ctx, x1, w("ln_2.weight"), w("ln_2.bias"));
  const h = linear(ctx, ln2.y, w("mlp.c_fc.weight"), w("mlp.c_fc.bias"));
  const hg = gelu(ctx, h);
  const mlp = linear(ctx, hg, w("mlp.c_proj.weight"), w("mlp.c_proj.bias"));
  const out = add(ctx, x1, mlp);
  return { x, ln1, qkv, att, proj, x1, ln2, h, hg, mlp, out };
}

/** Adds the block's parameter gradients into g; returns dx (a new tensor; dout is consumed). */
function blockBackward(ctx: GpuContext, p: P, g: P, l: number, a: BlockActs, dout: Tensor): Tensor {
  const w = (n: string) => p.get(`h.${l}.${n}`)!;
  const gw = (n: string) => g.get(`h.${l}.${n}`)!;
  const dhg = linearBackward(ctx, a.hg, w("mlp.c_proj.weight"), dout, { dw: gw("mlp.c_proj.weight"), db: gw("mlp.c_proj.bias") })!;
  const dh = geluBackward(ctx, a.h, dhg);
  dhg.release();
  const dln2 = linearBackward(ctx, a.ln2.y, w("mlp.c_fc.weight"), dh, { dw: gw("mlp.c_fc.weight"), db: gw("mlp.c_fc.bias") })!;
  dh.release();
  const l2 = layerNormBackward(ctx, a.x1, w("ln_2.weight"), a.ln2, dln2, { into: { dgamma: gw("ln_2.weight"), dbeta: gw("ln_2.bias") } });
  dln2.release();
  const dx1 = accumulate(ctx, l2.dx, dout); // residual: the skip path adds dout
  dout.release();
  const datt = linearBackward(ctx, a.att.out, w("attn.c_proj.weight"), dx1, { dw: gw("attn.c_proj.weight"), db: gw("attn.c_proj.bias") })!;
  const dqkv = attentionBackward(ctx, a.att.saved, datt);
  datt.release();
  const dln1 = linearBackward(ctx, a.ln1.y, w("attn.c_attn.weight"), dqkv, { dw: gw("attn.c_attn.weight"), db: gw("attn.c_attn.bias") })!;
  dqkv.release();
  const l1 = layerNormBackward(ctx, a.x, w("ln_1.weight"), a.ln1, dln1, { into: { dgamma: gw("ln_1.weight"), dbeta: gw("ln_1.bias") } });
  dln1.release();
  const dx = accumulate(ctx, l1.dx, dx1);
  dx1.release();
  return dx;
}

// ---------- the model ----------

export class GPT {
  readonly config: GPTConfig;
  readonly params: P = new Map();
  /** Allocated by enableTraining(): gradients and AdamW moments, same names as params. */
  readonly grads: P = new Map();
  readonly m: P = new Map();
  readonly v: P = new Map();

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

  /** Allocates gradients and AdamW moments (zeroed) once. */
  enableTraining(): void {
    if (this.grads.size) return;
    for (const [name, t] of this.params) {
      this.grads.set(name, this.ctx.zeros(t.shape));
      this.m.set(name, this.ctx.zeros(t.shape));
      this.v.set(name, this.ctx.zeros(t.shape));
    }
  }

  zeroGrads(): void {
    for (const g of this.grads.values()) this.ctx.clear(g);
  }

  /** Measures matmul variants on this model's shapes for batch B, length T (cached per adapter). */
  async tune(B: number, T: number): Promise<void> {
    const { nEmbd: C, vocabSize: V, nHead } = this.config;
    const N = B * T;
    const shapes: MatmulShapeSpec[] = [
      { M: N, N: 3 * C, K: C },
      { M: N, N: C, K: C },
      { M: N, N: 4 * C, K: C },
      { M: N, N: C, K: 4 * C },
      { M: N, N: V, K: C, transB: true },
      ...attentionMatmulShapes(B, T, C, nHead),
    ];
    await selectMatmulVariantsFor(this.ctx, shapes);
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
      const b = blockForward(ctx, p, l, config.nHead, x);
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
    const { da: dlnf } = matmulBackward(ctx, cache.lnf.y, wte, dlogits, { transB: true, into: { db: g.get("wte.weight")! } });
    const f = layerNormBackward(ctx, cache.xf, p.get("ln_f.weight")!, cache.lnf, dlnf!, { into: { dgamma: g.get("ln_f.weight")!, dbeta: g.get("ln_f.bias")! } });
    dlnf!.release();
    let dx = f.dx;
    for (let l = config.nLayer - 1; l >= 0; l--) dx = blockBackward(ctx, p, g, l, cache.blocks[l], dx);
    embeddingBackward(ctx, cache.tokens, dx, { dwte: g.get("wte.weight")!, dwpe: g.get("wpe.weight")! });
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
