// The ops composed into a one-block causal transformer (embedding, LayerNorm, attention, MLP,
// residuals, tied LM head, cross-entropy, clipping, AdamW): the API a GPT is built from.

import { describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import type { Tensor } from "../../gpu/tensor";
import { accumulate, add, gelu, geluBackward } from "../../gpu/ops/elementwise";
import { linear, linearBackward } from "../../gpu/ops/linear";
import { attention, attentionBackward, releaseAttention } from "../../gpu/ops/attention";
import { embedding, embeddingBackward } from "../../gpu/ops/embedding";
import { layerNorm, layerNormBackward } from "../../gpu/ops/layernorm";
import { matmul, matmulBackward } from "../../gpu/ops/matmul";
import { crossEntropyWithGrad } from "../../gpu/ops/cross-entropy";
import { adamw } from "../../gpu/ops/adamw";
import { globalGradNorm, sumAll } from "../../gpu/ops/reduce";
import { gpuContext, randInt, randn, rng } from "./helpers";

const [B, T, C, H, V] = [2, 8, 16, 2, 11];

function makeParams(ctx: GpuContext) {
  const r = rng(42);
  const p = {
    wte: ctx.tensor(randn(r, V * C, 0.3), [V, C]),
    wpe: ctx.tensor(randn(r, T * C, 0.1), [T, C]),
    ln1g: ctx.tensor(new Float32Array(C).fill(1), [C]),
    ln1b: ctx.zeros([C]),
    wqkv: ctx.tensor(randn(r, C * 3 * C, 0.2), [C, 3 * C]),
    bqkv: ctx.zeros([3 * C]),
    wproj: ctx.tensor(randn(r, C * C, 0.2), [C, C]),
    ln2g: ctx.tensor(new Float32Array(C).fill(1), [C]),
    ln2b: ctx.zeros([C]),
    wfc: ctx.tensor(randn(r, C * 4 * C, 0.2), [C, 4 * C]),
    wout: ctx.tensor(randn(r, 4 * C * C, 0.1), [4 * C, C]),
    lnfg: ctx.tensor(new Float32Array(C).fill(1), [C]),
    lnfb: ctx.zeros([C]),
  };
  const grads = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, ctx.zeros(t.shape)])) as Record<keyof typeof p, Tensor>;
  const m = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, ctx.zeros(t.shape)])) as Record<keyof typeof p, Tensor>;
  const v = Object.fromEntries(Object.entries(p).map(([k, t]) => [k, ctx.zeros(t.shape)])) as Record<keyof typeof p, Tensor>;
  return { p, grads, m, v };
}

/** One step: forward, backward, clip, AdamW. Returns the mean-loss tensor (caller reads it). */
function trainStep(ctx: GpuContext, s: ReturnType<typeof makeParams>, tokens: Tensor, targets: Tensor, step: number): Tensor {
  const { p, grads: g } = s;
  for (const t of Object.values(g)) ctx.clear(t);
  // forward
  const x0 = embedding(ctx, tokens, p.wte, p.wpe);
  const ln1 = layerNorm(ctx, x0, p.ln1g, p.ln1b);
  const qkv = linear(ctx, ln1.y, p.wqkv, p.bqkv);
  const att = attention(ctx, qkv, H);
  const proj = matmul(ctx, att.out, p.wproj);
  const x1 = add(ctx, x0, proj);
  const ln2 = layerNorm(ctx, x1, p.ln2g, p.ln2b);
  const h = matmul(ctx, ln2.y, p.wfc);
  const hg = gelu(ctx, h);
  const mlp = matmul(ctx, hg, p.wout);
  const x2 = add(ctx, x1, mlp);
  const lnf = layerNorm(ctx, x2, p.lnfg, p.lnfb);
  const logits = matmul(ctx, lnf.y, p.wte, { transB: true });
  const { losses, dlogits } = crossEntropyWithGrad(ctx, logits.reshape([B * T, V]), targets, 1 / (B * T));
  const loss = sumAll(ctx, losses, { scale: 1 / (B * T) });
  // backward
  const dl = dlogits.reshape([B, T, V]);
  const { da: dlnf } = matmulBackward(ctx, lnf.y, p.wte, dl, { transB: true, into: { db: g.wte } });
  const f = layerNormBackward(ctx, x2, p.lnfg, lnf, dlnf!, { into: { dgamma: g.lnfg, dbeta: g.lnfb } });
  const dx2 = f.dx; // residual: flows to x1 and to the MLP branch
  const { da: dhg } = matmulBackward(ctx, hg, p.wout, dx2, { into: { db: g.wout } });
  const dh = geluBackward(ctx, h, dhg!);
  const { da: dln2 } = matmulBackward(ctx, ln2.y, p.wfc, dh, { into: { db: g.wfc } });
  const l2 = layerNormBackward(ctx, x1, p.ln2g, ln2, dln2!, { into: { dgamma: g.ln2g, dbeta: g.ln2b } });
  const dx1 = accumulate(ctx, l2.dx, dx2);
  const { da: datt } = matmulBackward(ctx, att.out, p.wproj, dx1, { into: { db: g.wproj } });
  const dqkv = attentionBackward(ctx, att.saved, datt!);
  const dln1 = linearBackward(ctx, ln1.y, p.wqkv, dqkv, { dw: g.wqkv, db: g.bqkv });
  const l1 = layerNormBackward(ctx, x0, p.ln1g, ln1, dln1!, { into: { dgamma: g.ln1g, dbeta: g.ln1b } });
  const dx0 = accumulate(ctx, l1.dx, dx1);
  embeddingBackward(ctx, tokens, dx0, { dwte: g.wte, dwpe: g.wpe });
  // clip + update
  const norm = globalGradNorm(ctx, Object.values(g), 1.0);
  for (const k of Object.keys(p) as Array<keyof typeof p>) {
    adamw(ctx, { param: p[k], grad: g[k], m: s.m[k], v: s.v[k] }, step, { lr: 1e-2, weightDecay: 0.01 }, norm.scale);
  }
  for (const t of [x0, ln1.y, ln1.mean, ln1.rstd, qkv, att.out, proj, x1, ln2.y, ln2.mean, ln2.rstd, h, hg, mlp, x2, lnf.y, lnf.mean, lnf.rstd, logits, losses, dlogits, dlnf!, f.dx, dhg!, dh, dln2!, l2.dx, datt!, dqkv, dln1!, l1.dx, norm.norm, norm.scale]) {
    t.release();
  }
  releaseAttention(att.saved);
  return loss;
}

describe("ops composed into a one-block transformer", () => {
  it("learns a fixed batch, with one readback per step and no allocations after the first step", async () => {
    const ctx = await gpuContext();
    const state = makeParams(ctx);
    const r = rng(7);
    const tok = Int32Array.from({ length: B * T }, () => randInt(r, 0, V - 1));
    const tokens = ctx.tensor(tok, [B, T], "i32");
    const targets = ctx.tensor(Int32Array.from(tok, (t, i) => tok[(i + 1) % tok.length] ?? t), [B * T], "i32");
    const losses: number[] = [];
    let created = 0;
    for (let step = 1; step <= 40; step++) {
      const submits = ctx.submits;
      const loss = trainStep(ctx, state, tokens, targets, step);
      const [l] = await ctx.readMany([loss]);
      loss.release();
      losses.push(l[0]);
      if (step === 2) created = ctx.pool.getStats().created;
      if (step > 2) expect(ctx.pool.getStats().created).toBe(created);
      expect(ctx.submits - submits).toBeLessThanOrEqual(2);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0]).toBeGreaterThan(Math.log(V) * 0.7);
    expect(losses[39]).toBeLessThan(losses[0] * 0.5);
  });
});
