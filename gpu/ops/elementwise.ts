// Elementwise ops: residual add (and gradient accumulation), bias add, GELU; forward and backward.

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { elementWG, expectRank, expectShape, expectSameShape, fail, grid1d, lastDim } from "./util";
import { sumLeading } from "./reduce";

/** Residual add: a + b (same shapes). Its backward passes dy unchanged to both inputs. */
export function add(ctx: GpuContext, a: Tensor, b: Tensor): Tensor {
  expectSameShape("add", ["a", "b"], a, b);
  const out = ctx.empty(a.shape, "f32", "add");
  const WG = elementWG(ctx);
  ctx.dispatch({ kernel: "add", entry: "add", constants: { WG }, params: { u: [a.size], f: [1] }, bindings: [a, b, out], groups: grid1d(ctx, a.size, WG) });
  return out;
}

/** dst += alpha * src, in place (sums gradients from a residual branch and its skip path). */
export function accumulate(ctx: GpuContext, dst: Tensor, src: Tensor, alpha = 1): Tensor {
  expectSameShape("accumulate", ["dst", "src"], dst, src);
  if (dst.storage === src.storage) fail("accumulate", `dst and src ${formatShape(dst.shape)} are the same buffer; use a scale instead`);
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "add",
    entry: "accumulate",
    constants: { WG },
    params: { u: [dst.size], f: [alpha] },
    bindings: [null, null, null, src, dst],
    groups: grid1d(ctx, dst.size, WG),
  });
  return dst;
}

/** x + bias over the last axis. */
export function biasAdd(ctx: GpuContext, x: Tensor, bias: Tensor): Tensor {
  expectRank("biasAdd", "x", x, 1);
  expectShape("biasAdd", "bias", bias, [lastDim(x)]);
  const out = ctx.empty(x.shape, "f32", "biasAdd");
  const WG = elementWG(ctx);
  ctx.dispatch({ kernel: "bias", constants: { WG }, params: { u: [x.size, lastDim(x)] }, bindings: [x, bias, out], groups: grid1d(ctx, x.size, WG) });
  return out;
}

/** Bias gradient: dy summed over all leading axes; `into` accumulates. dx is dy itself. */
export function biasAddBackward(ctx: GpuContext, dy: Tensor, o: { into?: Tensor } = {}): Tensor {
  if (o.into) expectShape("biasAddBackward", "into", o.into, [lastDim(dy)]);
  return sumLeading(ctx, dy, { out: o.into, accumulate: !!o.into });
}

export function gelu(ctx: GpuContext, x: Tensor): Tensor {
  const y = ctx.empty(x.shape, "f32", "gelu");
  const WG = elementWG(ctx);
  ctx.dispatch({ kernel: "gelu", entry: "forward", constants: { WG }, params: { u: [x.size] }, bindings: [x, y], groups: grid1d(ctx, x.size, WG) });
  return y;
}

export function geluBackward(ctx: GpuContext, x: Tensor, dy: Tensor): Tensor {
  expectSameShape("geluBackward", ["x", "dy"], x, dy);
  const dx = ctx.empty(x.shape, "f32", "geluBackward");
  const WG = elementWG(ctx);
  ctx.dispatch({ kernel: "gelu", entry: "backward", constants: { WG }, params: { u: [x.size] }, bindings: [x, null, dy, dx], groups: grid1d(ctx, x.size, WG) });
  return dx;
}

/** The dropout mask's hash, as the kernel computes it (for references and tests). */
export function dropoutKeeps(seed: number, i: number, p: number): boolean {
  const pcg = (v: number) => {
    const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
    const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
    return ((w >>> 22) ^ w) >>> 0;
  };
  return pcg((i ^ pcg(seed)) >>> 0) >= dropoutThreshold(p);
}

function dropoutThreshold(p: number): number {
  return Math.min(0xffffffff, Math.round(p * 2 ** 32));
}

/**
 * Inverted dropout: each element kept with probability 1 - p and scaled by 1 / (1 - p). The mask
 * depends only on (seed, index), so the backward pass is the same call on the gradient.
 */
export function dropout(ctx: GpuContext, x: Tensor, o: { p: number; seed: number }): Tensor {
  if (!(o.p >= 0 && o.p < 1)) fail("dropout", `p must be in [0, 1), got ${o.p}`);
  const y = ctx.empty(x.shape, "f32", "dropout");
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "dropout",
    constants: { WG },
    params: { u: [x.size, o.seed >>> 0, dropoutThreshold(o.p)], f: [1 / (1 - o.p)] },
    bindings: [x, y],
    groups: grid1d(ctx, x.size, WG),
  });
  return y;
}
