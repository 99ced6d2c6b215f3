// Softmax over the last axis, optionally scaled and causally masked (attention scores).

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { expectRank, expectSameShape, fail, lastDim, rowDispatch } from "./util";
import { formatShape } from "../tensor";

export interface SoftmaxOptions {
  /** Multiplies x before the softmax. */
  scale?: number;
  /** Row r may only attend to columns j <= r mod T (T = the second-to-last axis). */
  causal?: boolean;
}

function rowsOf(op: string, x: Tensor, causal: boolean | undefined) {
  expectRank(op, "x", x, causal ? 2 : 1);
  const cols = lastDim(x);
  const T = causal ? x.shape[x.rank - 2] : 1;
  if (causal && T !== cols) fail(op, `causal softmax needs square score matrices, got ${formatShape(x.shape)}`);
  return { cols, rows: cols === 0 ? 0 : x.size / cols, T };
}

export function softmax(ctx: GpuContext, x: Tensor, o: SoftmaxOptions = {}): Tensor {
  const { cols, rows, T } = rowsOf("softmax", x, o.causal);
  const y = ctx.empty(x.shape, "f32", "softmax");
  ctx.dispatch({
    kernel: "softmax",
    ...rowDispatch(ctx, "forward", rows, cols),
    params: { u: [rows, cols, T, o.causal ? 1 : 0], f: [o.scale ?? 1] },
    bindings: [x, y],
  });
  return y;
}

/**
 * dx from the softmax output y and upstream dy (masked entries have y = 0, so dx = 0 there).
 * causal: y came from a causal softmax; dy's masked entries are not read (they may be undefined,
 * e.g. from a matmul with triangular: "out-lower").
 */
export function softmaxBackward(ctx: GpuContext, y: Tensor, dy: Tensor, o: { scale?: number; causal?: boolean } = {}): Tensor {
  expectSameShape("softmaxBackward", ["y", "dy"], y, dy);
  const { cols, rows, T } = rowsOf("softmaxBackward", y, o.causal);
  const dx = ctx.empty(y.shape, "f32", "softmaxBackward");
  ctx.dispatch({
    kernel: "softmax",
    ...rowDispatch(ctx, "backward", rows, cols),
    params: { u: [rows, cols, T, o.causal ? 1 : 0], f: [o.scale ?? 1] },
    bindings: [null, null, y, dy, dx],
  });
  return dx;
}
