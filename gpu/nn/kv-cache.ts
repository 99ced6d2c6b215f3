// Incremental decoding with a key/value cache: the prompt runs through the full forward once
// (its attention keys and values become the cache), then each new token costs one row through
// every layer, attending over the cached keys. Built from the ops: for a single position the
// [1, H, 1, hd] head layout is the qkv row itself, so q, k, v are plain buffer copies.

import type { Tensor } from "../tensor";
import { accumulate, add, gelu } from "../ops/elementwise";
import { layerNorm } from "../ops/layernorm";
import { matmul } from "../ops/matmul";
import { softmax } from "../ops/softmax";
import { projForward, releaseCache, type GPT } from "./gpt";

export class KVCache {
  /** Per layer: keys and values [1, H, length, hd]. */
  private k: Tensor[] = [];
  private v: Tensor[] = [];
  length = 0;

  constructor(readonly model: GPT) {}

  /** Room for `n` more tokens before the context is full. */
  remaining(): number {
    return this.model.config.blockSize - this.length;
  }

  /** Runs the prompt, fills the cache and returns the next-token logits [V]. */
  async prefill(tokens: number[]): Promise<Float32Array> {
    const { model } = this;
    const { ctx, config } = model;
    if (tokens.length === 0 || tokens.length > config.blockSize) throw new Error(`KVCache.prefill: needs 1..${config.blockSize} tokens, got ${tokens.length}`);
    this.release();
    const x = ctx.tensor(Int32Array.from(tokens), [1, tokens.length], "i32");
    const cache = model.forward(x);
    for (const b of cache.blocks) {
      const k = ctx.empty(b.att.saved.k.shape);
      const v = ctx.empty(b.att.saved.v.shape);
      ctx.copy(b.att.saved.k, k);
      ctx.copy(b.att.saved.v, v);
      this.k.push(k);
      this.v.push(v);
    }
    this.length = tokens.length;
    const [logits] = await ctx.readMany([cache.logits]);
    releaseCache(cache);
    x.release();
    return (logits as Float32Array).slice((tokens.length - 1) * config.vocabSize);
  }

  /** Appends one token and returns the logits [V] for the one after it. */
  async step(token: number): Promise<Float32Array> {
    const { model } = this;
    const { ctx, config, params: p } = model;
    const { nEmbd: C, nHead: H, vocabSize: V } = config;
    const hd = C / H;
    if (this.length === 0) throw new Error("KVCache.step: prefill first");
    if (this.length >= config.blockSize) throw new Error(`KVCache.step: the context of ${config.blockSize} is full`);
    if (!(Number.isInteger(token) && token >= 0 && token < V)) throw new Error(`KVCache.step: token ${token} is outside the vocabulary of ${V}`);
    const t = this.length;
    const enc = () => (ctx.endPass(), ctx.getEncoder());
    // x = wte[token] + wpe[t], gathered by copies
    let x: Tensor = ctx.empty([1, 1, C]);
    const pos = ctx.empty([1, 1, C]);
    enc().copyBufferToBuffer(p.get("wte.weight")!.buffer, token * C * 4, x.buffer, 0, C * 4);
    enc().copyBufferToBuffer(p.get("wpe.weight")!.buffer, t * C * 4, pos.buffer, 0, C * 4);
    accumulate(ctx, x, pos);
    pos.release();
    const unused = new Map<string, Tensor>();
    for (let l = 0; l < config.nLayer; l++) {
      const w = (n: string) => p.get(`h.${l}.${n}`)!;
      const ln1 = layerNorm(ctx, x, w("ln_1.weight"), w("ln_1.bias"));
      const qkv = projForward(ctx, p, model.lora, `h.${l}.attn.c_attn`, ln1.y, unused);
      const q = ctx.empty([1, H, 1, hd]);
      const k = ctx.empty([1, H, t + 1, hd]);
      const v = ctx.empty([1, H, t + 1, hd]);
      const e = enc();
      e.copyBufferToBuffer(qkv.buffer, 0, q.buffer, 0, C * 4);
      for (let h = 0; h < H; h++) {
        const row = hd * 4;
        e.copyBufferToBuffer(this.k[l].buffer, h * t * row, k.buffer, h * (t + 1) * row, t * row);
        e.copyBufferToBuffer(this.v[l].buffer, h * t * row, v.buffer, h * (t + 1) * row, t * row);
        e.copyBufferToBuffer(qkv.buffer, (C + h * hd) * 4, k.buffer, (h * (t + 1) + t) * row, row);
        e.copyBufferToBuffer(qkv.buffer, (2 * C + h * hd) * 4, v.buffer, (h * (t + 1) + t) * row, row);
      }
      this.k[l].release();
      this.v[l].release();
      this.k[l] = k;
      this.v[l] = v;
      const scores = matmul(ctx, q, k, { transB: true, alpha: 1 / Math.sqrt(hd) });
      const probs = softmax(ctx, scores);
      const y = matmul(ctx, probs, v);
      const proj = projForward(ctx, p, model.lora, `h.${l}.attn.c_proj`, y.reshape([1, 1, C]), unused);
      const x1 = add(ctx, x, proj);
      const ln2 = layerNorm(ctx, x1, w("ln_2.weight"), w("ln_2.bias"));
      const h1 = projForward(ctx, p, model.lora, `h.${l}.mlp.c_fc`, ln2.y, unused);
      const hg = gelu(ctx, h1);
      const mlp = projForward(ctx, p, model.lora, `h.${l}.mlp.c_proj`, hg, unused);
      const out = add(ctx, x1, mlp);
      for (const r of [x, ln1.y, ln1.mean, ln1.rstd, qkv, q, scores, probs, y, proj, x1, ln2.y, ln2.mean, ln2.rstd, h1, hg, mlp, ...unused.values()]) r.release();
      unused.clear();
      x = out;
    }
    const lnf = layerNorm(ctx, x, p.get("ln_f.weight")!, p.get("ln_f.bias")!);
    const logits = matmul(ctx, lnf.y, p.get("wte.weight")!, { transB: true });
    const [out] = await ctx.readMany([logits]);
    for (const r of [x, lnf.y, lnf.mean, lnf.rstd, logits]) r.release();
    this.length = t + 1;
    return out as Float32Array;
  }

  release(): void {
    for (const t of [...this.k, ...this.v]) t.release();
    this.k = [];
    this.v = [];
    this.length = 0;
  }
}
