// AdamW update in place, optionally scaling gradients by a GPU-side clip coefficient.

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { elementWG, expectSameShape, expectShape, grid1d } from "./util";

export interface AdamWConfig {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface AdamWSlot {
  param: Tensor;
  grad: Tensor;
  /** First and second moments, zero-initialised, same shape as param. */
  m: Tensor;
  v: Tensor;
}

const ones = new WeakMap<GpuContext, Tensor>();

/**
 * One AdamW step (step counts from 1). `gradScale` is a [1] tensor multiplying the gradient,
 * e.g. globalGradNorm(...).scale for clipping without a readback.
 */
export function adamw(ctx: GpuContext, slot: AdamWSlot, step: number, cfg: AdamWConfig, gradScale?: Tensor): void {
  const { param, grad, m, v } = slot;
  expectSameShape("adamw", ["param", "grad"], param, grad);
  expectSameShape("adamw", ["param", "m"], param, m);
  expectSameShape("adamw", ["param", "v"], param, v);
  let scale = gradScale;
  if (scale) expectShape("adamw", "gradScale", scale, [1]);
  else {
    scale = ones.get(ctx);
    if (!scale) ones.set(ctx, (scale = ctx.tensor([1], [1])));
  }
  const b1 = cfg.beta1 ?? 0.9;
  const b2 = cfg.beta2 ?? 0.999;
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "adamw",
    constants: { WG },
    params: { u: [param.size], f: [cfg.lr, b1, b2, cfg.eps ?? 1e-8, cfg.weightDecay ?? 0, 1 - b1 ** step, 1 - b2 ** step] },
    bindings: [param, grad, m, v, scale],
    groups: grid1d(ctx, param.size, WG),
  });
}
