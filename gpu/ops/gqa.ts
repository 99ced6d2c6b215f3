// Grouped-query causal attention (Llama 2/3, Mistral, Qwen2; multi-query when nKvHead = 1), with
// an optional sliding window, built from the batched matmul and the masked softmax:
//   q [B, Tq, H*hd], k and v [B, Tk, Hkv*hd]; query head h reads kv head floor(h / G), G = H / Hkv.
// Query heads are split to [B, H, Tq, hd], which is [B*Hkv, G*Tq, hd]: the G query heads of one kv
// head stacked as rows. Then every product is a plain batched matmul over B*Hkv with no kv head
// copied G times, and the backward's sum over a group (dk, dv) is part of the matmul:
//   S = scale q k^T [B*Hkv, G*Tq, Tk];  P = masked_softmax(S);  out = merge(P v)
// Mask: query i sits at position pos = Tk - Tq + i (Tq < Tk: decoding with a KV cache) and sees
// keys j with j <= pos and, with a window W, j > pos - W. That is transformers'
// sliding_window_causal_mask_function (masking_utils.py: causal_mask_function `kv_idx <= q_idx`
// and sliding_window_overlay `kv_idx > q_idx - sliding_window`): W keys including its own.

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { matmul, type MatmulShapeSpec, type MatmulVariant } from "./matmul";
import { softmax, softmaxBackward } from "./softmax";
import { elementWG, expectShape, fail, grid1d } from "./util";

export interface GqaOptions {
  nHead: number;
  nKvHead: number;
  headDim: number;
  /** Sliding window: a query at position p sees keys p - window < j <= p. Default: no window. */
  window?: number;
  /** Default 1/sqrt(headDim). */
  scale?: number;
  /** Force a matmul variant (tests, benchmarks); default: the adapter's measured choice. */
  variant?: MatmulVariant;
}

export interface GqaSaved {
  B: number;
  Tq: number;
  Tk: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  window: number;
  scale: number;
  /** [B*Hkv, G*Tq, hd]: query heads grouped by their kv head. */
  q: Tensor;
  /** [B*Hkv, Tk, hd] each. */
  k: Tensor;
  v: Tensor;
  /** [B*Hkv, G*Tq, Tk] attention probabilities (zero where masked). */
  probs: Tensor;
}

interface Dims {
  B: number;
  Tq: number;
  Tk: number;
  H: number;
  Hkv: number;
  G: number;
  hd: number;
  window: number;
  scale: number;
}

function checkOptions(op: string, o: GqaOptions): void {
  const { nHead, nKvHead, headDim } = o;
  for (const [name, v] of [["nHead", nHead], ["nKvHead", nKvHead], ["headDim", headDim]] as const) {
    if (!Number.isInteger(v) || v < 1) fail(op, `${name} must be an integer >= 1, got ${v}`);
  }
  if (nHead % nKvHead !== 0) fail(op, `nKvHead ${nKvHead} does not divide nHead ${nHead}`);
  if (o.window !== undefined && (!Number.isInteger(o.window) || o.window < 1)) fail(op, `window must be an integer >= 1, got ${o.window}`);
  if (o.scale !== undefined && !Number.isFinite(o.scale)) fail(op, `scale must be a finite number, got ${o.scale}`);
}

function dims(q: Tensor, k: Tensor, v: Tensor, o: GqaOptions): Dims {
  const op = "groupedQueryAttention";
  checkOptions(op, o);
  const { nHead: H, nKvHead: Hkv, headDim: hd } = o;
  const shapes = `(q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)})`;
  if (q.rank !== 3 || q.shape[2] !== H * hd) fail(op, `q must be [B, Tq, ${H} * ${hd}] ${shapes}`);
  const [B, Tq] = q.shape;
  if (k.rank !== 3 || k.shape[0] !== B || k.shape[2] !== Hkv * hd) fail(op, `k must be [${B}, Tk, ${Hkv} * ${hd}] ${shapes}`);
  const Tk = k.shape[1];
  expectShape(op, "v", v, k.shape);
  if (Tq < 1 || Tq > Tk) fail(op, `needs 1 <= Tq <= Tk (queries are the last Tq of Tk positions) ${shapes}`);
  return { B, Tq, Tk, H, Hkv, G: H / Hkv, hd, window: o.window ?? 0, scale: o.scale ?? 1 / Math.sqrt(hd) };
}

/** attention_layout between [B, T, heads*hd] and [B, heads, T, hd]. */
function layout(ctx: GpuContext, entry: "split" | "merge", s: { B: number; T: number; heads: number; hd: number }, from: Tensor, to: Tensor): void {
  const WG = elementWG(ctx);
  // split: flat_in (binding 7) -> heads_out (8); merge: heads_in (5) -> flat_out (6)
  const bindings = entry === "split" ? [null, null, null, null, null, null, from, to] : [null, null, null, null, from, to];
  ctx.dispatch({
    kernel: "attention_layout",
    entry,
    constants: { WG },
    params: { u: [s.B, s.T, s.heads, s.hd] },
    bindings,
    groups: grid1d(ctx, s.B * s.T * s.heads * s.hd, WG),
    label: `gqa:${entry}`,
  });
}

/** Square per-batch products (one query head per kv head, no cache) skip the causal zeros. */
function triangular(d: Dims): boolean {
  return d.G === 1 && d.Tq === d.Tk;
}

export function groupedQueryAttention(ctx: GpuContext, q: Tensor, k: Tensor, v: Tensor, o: GqaOptions): { out: Tensor; saved: GqaSaved } {
  const d = dims(q, k, v, o);
  const { B, Tq, Tk, H, Hkv, G, hd } = d;
  const op = "groupedQueryAttention";
  const tri = triangular(d);
  const qh = ctx.empty([B * Hkv, G * Tq, hd], "f32", op);
  const kh = ctx.empty([B * Hkv, Tk, hd], "f32", op);
  const vh = ctx.empty([B * Hkv, Tk, hd], "f32", op);
  layout(ctx, "split", { B, T: Tq, heads: H, hd }, q, qh);
  layout(ctx, "split", { B, T: Tk, heads: Hkv, hd }, k, kh);
  layout(ctx, "split", { B, T: Tk, heads: Hkv, hd }, v, vh);
  const scores = matmul(ctx, qh, kh, { transB: true, alpha: d.scale, variant: o.variant, triangular: tri ? "out-lower" : undefined });
  // rows of one (batch, query head) are Tq consecutive queries: the softmax's causal period
  const probs = softmax(ctx, scores.reshape([B * H, Tq, Tk]), { causal: true, window: d.window || undefined }).reshape([B * Hkv, G * Tq, Tk]);
  scores.release();
  const y = matmul(ctx, probs, vh, { variant: o.variant, triangular: tri ? "a-lower" : undefined });
  const out = ctx.empty([B, Tq, H * hd], "f32", op);
  layout(ctx, "merge", { B, T: Tq, heads: H, hd }, y, out);
  y.release();
  return { out, saved: { B, Tq, Tk, nHead: H, nKvHead: Hkv, headDim: hd, window: d.window, scale: d.scale, q: qh, k: kh, v: vh, probs } };
}

/** dq [B, Tq, H*hd], dk and dv [B, Tk, Hkv*hd] from the upstream gradient dout [B, Tq, H*hd]. */
export function groupedQueryAttentionBackward(ctx: GpuContext, saved: GqaSaved, dout: Tensor, o: GqaOptions): { dq: Tensor; dk: Tensor; dv: Tensor } {
  const op = "groupedQueryAttentionBackward";
  checkOptions(op, o);
  const { B, Tq, Tk, nHead: H, nKvHead: Hkv, headDim: hd, scale, window } = saved;
  if (o.nHead !== H || o.nKvHead !== Hkv || o.headDim !== hd || (o.window ?? 0) !== window || (o.scale ?? 1 / Math.sqrt(hd)) !== scale) {
    fail(op, `options ${JSON.stringify({ nHead: o.nHead, nKvHead: o.nKvHead, headDim: o.headDim, window: o.window, scale: o.scale })} differ from the forward's ${JSON.stringify({ nHead: H, nKvHead: Hkv, headDim: hd, window: window || undefined, scale })}`);
  }
  expectShape(op, "dout", dout, [B, Tq, H * hd]);
  const G = H / Hkv;
  const tri = triangular({ B, Tq, Tk, H, Hkv, G, hd, window, scale });
  const variant = o.variant;
  const dy = ctx.empty([B * Hkv, G * Tq, hd], "f32", op);
  layout(ctx, "split", { B, T: Tq, heads: H, hd }, dout, dy);
  const dprobs = matmul(ctx, dy, saved.v, { transB: true, variant, triangular: tri ? "out-lower" : undefined });
  // dv sums P^T dy over the G*Tq rows of the group: every query head that read this kv head
  const dvh = matmul(ctx, saved.probs, dy, { transA: true, variant, triangular: tri ? "a-upper" : undefined });
  dy.release();
  const dscores = softmaxBackward(ctx, saved.probs.reshape([B * H, Tq, Tk]), dprobs.reshape([B * H, Tq, Tk]), { causal: true, window: window || undefined }).reshape([B * Hkv, G * Tq, Tk]);
  dprobs.release();
  const dqh = matmul(ctx, dscores, saved.k, { alpha: scale, variant, triangular: tri ? "a-lower" : undefined });
  const dkh = matmul(ctx, dscores, saved.q, { transA: true, alpha: scale, variant, triangular: tri ? "a-upper" : undefined });
  dscores.release();
  const dq = ctx.empty([B, Tq, H * hd], "f32", op);
  const dk = ctx.empty([B, Tk, Hkv * hd], "f32", op);
  const dv = ctx.empty([B, Tk, Hkv * hd], "f32", op);
  layout(ctx, "merge", { B, T: Tq, heads: H, hd }, dqh, dq);
  layout(ctx, "merge", { B, T: Tk, heads: Hkv, hd }, dkh, dk);
  layout(ctx, "merge", { B, T: Tk, heads: Hkv, hd }, dvh, dv);
  for (const t of [dqh, dkh, dvh]) t.release();
  return { dq, dk, dv };
}

export function releaseGqaSaved(saved: GqaSaved): void {
  for (const t of [saved.q, saved.k, saved.v, saved.probs]) t.release();
}

/** The batched matmul shapes grouped-query attention runs (forward and backward), for selectMatmulVariantsFor. */
export function gqaMatmulShapes(B: number, Tq: number, Tk: number, o: Pick<GqaOptions, "nHead" | "nKvHead" | "headDim">): MatmulShapeSpec[] {
  const G = o.nHead / o.nKvHead;
  const batch = B * o.nKvHead;
  const M = G * Tq;
  const hd = o.headDim;
  const tri = G === 1 && Tq === Tk;
  return [
    { M, N: Tk, K: hd, batch, transB: true, triangular: tri ? "out-lower" : undefined },
    { M, N: hd, K: Tk, batch, triangular: tri ? "a-lower" : undefined },
    { M: Tk, N: hd, K: M, batch, transA: true, triangular: tri ? "a-upper" : undefined },
  ];
}
