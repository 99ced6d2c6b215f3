// Causal multi-head self-attention, built from the batched matmul and the masked softmax:
//   q, k, v = split(qkv);  P = causal_softmax(q k^T / sqrt(hd));  out = merge(P v)
// qkv is [B, T, 3C] (q, then k, then v along the last axis, head h at columns h*hd), out [B, T, C].

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { matmul, type MatmulShapeSpec, type MatmulVariant } from "./matmul";
import { softmax, softmaxBackward } from "./softmax";
import { elementWG, expectShape, fail, grid1d } from "./util";

export interface AttentionSaved {
  B: number;
  T: number;
  H: number;
  hd: number;
  /** [B, H, T, hd] each. */
  q: Tensor;
  k: Tensor;
  v: Tensor;
  /** [B, H, T, T] attention probabilities. */
  probs: Tensor;
}

export interface AttentionOptions {
  variant?: MatmulVariant;
}

function layout(ctx: GpuContext, entry: string, s: { B: number; T: number; H: number; hd: number }, bindings: Array<Tensor | null>): void {
  const n = s.B * s.H * s.T * s.hd;
  const WG = elementWG(ctx);
  ctx.dispatch({ kernel: "attention_layout", entry, constants: { WG }, params: { u: [s.B, s.T, s.H, s.hd] }, bindings, groups: grid1d(ctx, n, WG) });
}

export function attention(ctx: GpuContext, qkv: Tensor, nHead: number, o: AttentionOptions = {}): { out: Tensor; saved: AttentionSaved } {
  if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0) fail("attention", `qkv must be [B, T, 3C], got ${formatShape(qkv.shape)}`);
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  if (!Number.isInteger(nHead) || nHead < 1 || C % nHead !== 0) fail("attention", `${nHead} heads do not divide C = ${C} (qkv ${formatShape(qkv.shape)})`);
  const H = nHead;
  const hd = C / H;
  const s = { B, T, H, hd };
  const q = ctx.empty([B, H, T, hd], "f32", "attention");
  const k = ctx.empty([B, H, T, hd], "f32", "attention");
  const v = ctx.empty([B, H, T, hd], "f32", "attention");
  layout(ctx, "split_qkv", s, [qkv, q, k, v]);
  // causal: only the scores' lower triangle is read, and P is zero above its diagonal
  const scores = matmul(ctx, q, k, { transB: true, alpha: 1 / Math.sqrt(hd), variant: o.variant, triangular: "out-lower" });
  const probs = softmax(ctx, scores, { causal: true });
  scores.release();
  const y = matmul(ctx, probs, v, { variant: o.variant, triangular: "a-lower" });
  const out = ctx.empty([B, T, C], "f32", "attention");
  layout(ctx, "merge", s, [null, null, null, null, y, out]);
  y.release();
  return { out, saved: { ...s, q, k, v, probs } };
}

/** dqkv [B, T, 3C] from the upstream gradient dout [B, T, C]. */
export function attentionBackward(ctx: GpuContext, saved: AttentionSaved, dout: Tensor, o: AttentionOptions = {}): Tensor {
  const { B, T, H, hd, q, k, v, probs } = saved;
  expectShape("attentionBackward", "dout", dout, [B, T, H * hd]);
  const variant = o.variant;
  const dy = ctx.empty([B, H, T, hd], "f32", "attentionBackward");
  layout(ctx, "split", saved, [null, null, null, null, null, null, dout, dy]);
  // P and dscores are zero above the diagonal (P^T below it); dprobs is read on and below it only
  const dprobs = matmul(ctx, dy, v, { transB: true, variant, triangular: "out-lower" });
  const dv = matmul(ctx, probs, dy, { transA: true, variant, triangular: "a-upper" });
  dy.release();
  const dscores = softmaxBackward(ctx, probs, dprobs, { causal: true });
  dprobs.release();
  const alpha = 1 / Math.sqrt(hd);
  const dq = matmul(ctx, dscores, k, { alpha, variant, triangular: "a-lower" });
  const dk = matmul(ctx, dscores, q, { transA: true, alpha, variant, triangular: "a-upper" });
  dscores.release();
  const dqkv = ctx.empty([B, T, 3 * H * hd], "f32", "attentionBackward");
  layout(ctx, "merge_qkv", saved, [null, null, null, null, null, null, null, null, dq, dk, dv, dqkv]);
  dq.release();
  dk.release();
  dv.release();
  return dqkv;
}

/** The batched matmul shapes attention runs (forward and backward), for selectMatmulVariantsFor. */
export function attentionMatmulShapes(B: number, T: number, C: number, nHead: number): MatmulShapeSpec[] {
  const hd = C / nHead;
  const batch = B * nHead;
  return [
    { M: T, N: T, K: hd, batch, transB: true, triangular: "out-lower" },
    { M: T, N: hd, K: T, batch, triangular: "a-lower" },
    { M: T, N: hd, K: T, batch, transA: true, triangular: "a-upper" },
  ];
}

export function releaseAttention(saved: AttentionSaved): void {
  for (const t of [saved.q, saved.k, saved.v, saved.probs]) t.release();
}
