// RMSNorm over the last axis (Hugging Face LlamaRMSNorm, used by Llama, Mistral and Qwen2):
//   y = weight * (x * rsqrt(mean(x^2) + eps)), all in f32. The forward saves rstd for the backward.

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { elementWG, expectRank, expectSameShape, expectShape, fail, grid1d, lastDim, placeholder, rowDispatch } from "./util";

export interface RmsNormResult {
  y: Tensor;
  /** [rows] 1/sqrt(mean(x^2) + eps) per row, needed by rmsNormBackward. */
  rstd: Tensor;
}

export function rmsNorm(ctx: GpuContext, x: Tensor, weight: Tensor, eps: number): RmsNormResult {
  expectRank("rmsNorm", "x", x, 1);
  const C = lastDim(x);
  expectShape("rmsNorm", "weight", weight, [C]);
  if (!(eps >= 0)) fail("rmsNorm", `eps must be a number >= 0, got ${eps}`);
  const rows = C === 0 ? 0 : x.size / C;
  const y = ctx.empty(x.shape, "f32", "rmsNorm");
  const rstd = ctx.empty(x.shape.slice(0, -1), "f32", "rmsNorm");
  ctx.dispatch({
    kernel: "rmsnorm",
    ...rowDispatch(ctx, "forward", rows, C),
    params: { u: [rows, C, 0, 0], f: [eps] },
    // x, weight, y, rstd_out
    bindings: [x, weight, y, rstd],
  });
  return { y, rstd };
}

export interface RmsNormBackwardOptions {
  /** Add dweight into this tensor ([C]) instead of returning a new one. */
  into?: { dweight: Tensor };
  /** A gradient of x's shape added to dx in the same pass: the skip path around a pre-norm block. */
  residual?: Tensor;
  /** Default true; false skips dweight (a frozen norm, e.g. LoRA fine-tuning) and returns none. */
  needWeightGrad?: boolean;
}

export function rmsNormBackward(
  ctx: GpuContext,
  x: Tensor,
  weight: Tensor,
  saved: Pick<RmsNormResult, "rstd">,
  dy: Tensor,
  o: RmsNormBackwardOptions = {},
): { dx: Tensor; dweight?: Tensor } {
  const op = "rmsNormBackward";
  expectRank(op, "x", x, 1);
  expectSameShape(op, ["x", "dy"], x, dy);
  if (o.residual) expectSameShape(op, ["x", "residual"], x, o.residual);
  const C = lastDim(x);
  expectShape(op, "weight", weight, [C]);
  const rows = C === 0 ? 0 : x.size / C;
  // [rows] in any leading shape: the forward may have seen x as [B*T, C] and the backward [B, T, C]
  if (saved.rstd.size !== rows) fail(op, `saved.rstd must hold ${rows} rows (x ${formatShape(x.shape)}), got ${formatShape(saved.rstd.shape)}`);
  const needWeightGrad = o.needWeightGrad ?? true;
  if (o.into && needWeightGrad) expectShape(op, "into.dweight", o.into.dweight, [C]);
  const dx = ctx.empty(x.shape, "f32", op);
  ctx.dispatch({
    kernel: "rmsnorm",
    ...rowDispatch(ctx, "backward", rows, C),
    params: { u: [rows, C, 0, o.residual ? 1 : 0], f: [0] },
    // x, weight, -, -, dy, dx, rstd_in, -, dres
    bindings: [x, weight, null, null, dy, dx, saved.rstd, null, o.residual ?? placeholder(ctx, "read")],
  });
  if (!needWeightGrad) return { dx };
  const dweight = o.into?.dweight ?? ctx.empty([C], "f32", op);
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "rmsnorm",
    entry: "params_backward",
    constants: { WG },
    params: { u: [rows, C, o.into ? 1 : 0, 0], f: [0] },
    // x, -, -, -, dy, -, rstd_in, dweight
    bindings: [x, null, null, null, dy, null, saved.rstd, dweight],
    groups: grid1d(ctx, C, WG),
  });
  return { dx, dweight };
}
