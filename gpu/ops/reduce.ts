// Reductions: over leading axes (bias gradients), over the last axis, over everything, and the
// global gradient norm with its clip coefficient (computed on the GPU: no readback per step).

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { elementWG, fail, grid1d, lastDim, rowDispatch, rowWG } from "./util";

interface AccumulateOptions {
  out?: Tensor;
  accumulate?: boolean;
}

function target(ctx: GpuContext, op: string, shape: number[], o: AccumulateOptions): Tensor {
  if (o.out) {
    if (o.out.size !== shape.reduce((x, y) => x * y, 1)) fail(op, `out is ${formatShape(o.out.shape)}, expected ${formatShape(shape)}`);
    return o.out;
  }
  if (o.accumulate) fail(op, "accumulate needs an out tensor");
  return ctx.empty(shape, "f32", op);
}

/** out[c] = sum over every leading index of x[..., c]. The bias gradient. */
export function sumLeading(ctx: GpuContext, x: Tensor, o: AccumulateOptions = {}): Tensor {
  if (x.rank < 1) fail("sumLeading", `x must have at least 1 dimension, got ${formatShape(x.shape)}`);
  const cols = lastDim(x);
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = target(ctx, "sumLeading", [cols], o);
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "reduce",
    entry: "sum_cols",
    constants: { WG },
    params: { u: [rows, cols, o.accumulate ? 1 : 0, 0, 0, 0], f: [1, 0] },
    bindings: [x, out],
    groups: grid1d(ctx, cols, WG),
  });
  return out;
}

/** out[...] = sum over the last axis of x. */
export function sumLastAxis(ctx: GpuContext, x: Tensor, o: AccumulateOptions = {}): Tensor {
  if (x.rank < 1) fail("sumLastAxis", `x must have at least 1 dimension, got ${formatShape(x.shape)}`);
  const cols = lastDim(x);
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = target(ctx, "sumLastAxis", x.shape.slice(0, -1), o);
  ctx.dispatch({
    kernel: "reduce",
    ...rowDispatch(ctx, "sum_rows", rows, cols),
    params: { u: [rows, cols, o.accumulate ? 1 : 0, 0, 0, 0], f: [1, 0] },
    bindings: [x, out],
  });
  return out;
}

/** Invocations (and partial sums) per tensor: about 256 elements each, at most 4096. */
function partialCount(n: number): number {
  return Math.max(1, Math.min(4096, Math.ceil(n / 256)));
}

function recordPartials(ctx: GpuContext, xs: Tensor[], square: boolean): { partials: Tensor; count: number } {
  const count = xs.reduce((s, x) => s + partialCount(x.size), 0);
  const partials = ctx.empty([count], "f32", "reduce");
  const WG = Math.min(64, elementWG(ctx));
  let offset = 0;
  for (const x of xs) {
    const g = partialCount(x.size);
    ctx.dispatch({
      kernel: "reduce",
      entry: "partial",
      constants: { WG },
      params: { u: [g, x.size, 0, offset, square ? 1 : 0, 0], f: [1, 0] },
      bindings: [x, null, partials],
      groups: grid1d(ctx, g, WG),
    });
    offset += g;
  }
  return { partials, count };
}

function finalize(ctx: GpuContext, partials: Tensor, count: number, out: Tensor, mode: 0 | 1, scale: number, maxNorm: number): void {
  ctx.dispatch({
    kernel: "reduce",
    entry: "finalize",
    constants: { WG: rowWG(ctx, count) },
    params: { u: [0, count, 0, 0, 0, mode], f: [scale, maxNorm] },
    bindings: [null, out, null, partials],
    groups: [1],
  });
}

/** [1] tensor holding scale * (sum of every element of x). Fixed summation order: deterministic. */
export function sumAll(ctx: GpuContext, x: Tensor, o: { scale?: number } = {}): Tensor {
  const { partials, count } = recordPartials(ctx, [x], false);
  const out = ctx.empty([1], "f32", "sumAll");
  finalize(ctx, partials, count, out, 0, o.scale ?? 1, 0);
  partials.release();
  return out;
}

export interface GradNorm {
  /** [1]: sqrt of the sum of squares of every gradient. */
  norm: Tensor;
  /** [1]: min(1, maxNorm / (norm + 1e-6)); pass to adamw as gradScale to clip. */
  scale: Tensor;
}

/** Global L2 norm over a list of gradient tensors, and the clip coefficient for `maxNorm`. */
export function globalGradNorm(ctx: GpuContext, grads: Tensor[], maxNorm = Infinity): GradNorm {
  if (grads.length === 0) fail("globalGradNorm", "needs at least one gradient tensor");
  const { partials, count } = recordPartials(ctx, grads, true);
  const both = ctx.empty([2], "f32", "globalGradNorm");
  finalize(ctx, partials, count, both, 1, 1, Number.isFinite(maxNorm) ? maxNorm : 3.0e38);
  partials.release();
  const norm = ctx.empty([1], "f32", "globalGradNorm");
  const scale = ctx.empty([1], "f32", "globalGradNorm");
  // Split into two tensors so each can be bound on its own (binding offsets need 256-byte alignment).
  ctx.endPass();
  ctx.getEncoder().copyBufferToBuffer(both.buffer, 0, norm.buffer, 0, 4);
  ctx.getEncoder().copyBufferToBuffer(both.buffer, 4, scale.buffer, 0, 4);
  both.release();
  return { norm, scale };
}

