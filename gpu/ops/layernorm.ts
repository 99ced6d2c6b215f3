// LayerNorm over the last axis: forward saves mean and rstd for the backward.

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { elementWG, expectRank, expectSameShape, expectShape, grid1d, lastDim, placeholder, rowDispatch } from "./util";

export interface LayerNormResult {
  y: Tensor;
  /** [rows] per-row mean and 1/sqrt(var + eps), needed by layerNormBackward. */
  mean: Tensor;
  rstd: Tensor;
}

export function layerNorm(ctx: GpuContext, x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): LayerNormResult {
  expectRank("layerNorm", "x", x, 1);
  const C = lastDim(x);
  expectShape("layerNorm", "gamma", gamma, [C]);
  expectShape("layerNorm", "beta", beta, [C]);
  const rows = C === 0 ? 0 : x.size / C;
  const y = ctx.empty(x.shape, "f32", "layerNorm");
  const mean = ctx.empty(x.shape.slice(0, -1), "f32", "layerNorm");
  const rstd = ctx.empty(x.shape.slice(0, -1), "f32", "layerNorm");
  ctx.dispatch({
    kernel: "layernorm",
    ...rowDispatch(ctx, "forward", rows, C),
    params: { u: [rows, C, 0, 0], f: [eps] },
    bindings: [x, gamma, beta, y, mean, rstd],
  });
  return { y, mean, rstd };
}

export interface LayerNormGrads {
  dx: Tensor;
  dgamma: Tensor;
  dbeta: Tensor;
}

/**
 * With `into`, dgamma and dbeta are added into the given tensors. With `residual`, that gradient
 * (x's shape) is added to dx: the skip path around a pre-LayerNorm block, in the same pass.
 */
export function layerNormBackward(
  ctx: GpuContext,
  x: Tensor,
  gamma: Tensor,
  saved: Pick<LayerNormResult, "mean" | "rstd">,
  dy: Tensor,
  o: { into?: { dgamma: Tensor; dbeta: Tensor }; residual?: Tensor } = {},
): LayerNormGrads {
  expectSameShape("layerNormBackward", ["x", "dy"], x, dy);
  if (o.residual) expectSameShape("layerNormBackward", ["x", "residual"], x, o.residual);
  const C = lastDim(x);
  expectShape("layerNormBackward", "gamma", gamma, [C]);
  const rows = C === 0 ? 0 : x.size / C;
  const dx = ctx.empty(x.shape, "f32", "layerNormBackward");
  ctx.dispatch({
    kernel: "layernorm",
    ...rowDispatch(ctx, "backward", rows, C),
    params: { u: [rows, C, 0, o.residual ? 1 : 0], f: [0] },
    bindings: [x, gamma, null, null, null, null, dy, dx, saved.mean, saved.rstd, null, null, o.residual ?? placeholder(ctx, "read")],
  });
  const dgamma = o.into?.dgamma ?? ctx.empty([C], "f32", "layerNormBackward");
  const dbeta = o.into?.dbeta ?? ctx.empty([C], "f32", "layerNormBackward");
  if (o.into) {
    expectShape("layerNormBackward", "into.dgamma", dgamma, [C]);
    expectShape("layerNormBackward", "into.dbeta", dbeta, [C]);
  }
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "layernorm",
    entry: "params_backward",
    constants: { WG },
    params: { u: [rows, C, o.into ? 1 : 0, 0], f: [0] },
    bindings: [x, null, null, null, null, null, dy, null, saved.mean, saved.rstd, dgamma, dbeta],
    groups: grid1d(ctx, C, WG),
  });
  return { dx, dgamma, dbeta };
}
