// Softmax over the last axis, optionally scaled and causally masked (attention scores).

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { expectRank, expectSameShape, fail, lastDim, rowDispatch } from "./util";
import { formatShape } from "../tensor";

export interface SoftmaxOptions {
  /** Multiplies x before the softmax. */
  scale?: number;
  /**
   * Scores [..., T, cols] of T queries, the last T of cols positions (T = cols: self-attention;
   * T < cols: decoding with a KV cache): query r mod T at position pos = cols - T + r mod T may
   * only attend to columns j <= pos.
   */
  causal?: boolean;
  /** With causal: a sliding window of this many keys, pos - window < j <= pos. */
  window?: number;
}

function rowsOf(op: string, x: Tensor, o: { causal?: boolean; window?: number }) {
  const causal = o.causal;
  expectRank(op, "x", x, causal ? 2 : 1);
  const cols = lastDim(x);
  const T = causal ? x.shape[x.rank - 2] : 1;
  if (causal && T > cols) fail(op, `causal softmax needs no more queries than keys, got ${formatShape(x.shape)}`);
  const window = o.window ?? 0;
  if (window !== 0 && (!causal || !Number.isInteger(window) || window < 1)) fail(op, `window must be an integer >= 1 with causal, got ${o.window} (x ${formatShape(x.shape)})`);
  return { cols, rows: cols === 0 ? 0 : x.size / cols, T, offset: causal ? cols - T : 0, window };
}

export function softmax(ctx: GpuContext, x: Tensor, o: SoftmaxOptions = {}): Tensor {
  const { cols, rows, T, offset, window } = rowsOf("softmax", x, o);
  const y = ctx.empty(x.shape, "f32", "softmax");
  ctx.dispatch({
    kernel: "softmax",
    ...rowDispatch(ctx, "forward", rows, cols),
    params: { u: [rows, cols, T, o.causal ? 1 : 0, offset, window], f: [o.scale ?? 1] },
    bindings: [x, y],
  });
  return y;
}

/**
 * dx from the softmax output y and upstream dy (masked entries have y = 0, so dx = 0 there).
 * causal (and window): y came from such a softmax; dy's masked entries are not read (they may be
 * undefined, e.g. from a matmul with triangular: "out-lower").
 */
export function softmaxBackward(ctx: GpuContext, y: Tensor, dy: Tensor, o: SoftmaxOptions = {}): Tensor {
  expectSameShape("softmaxBackward", ["y", "dy"], y, dy);
  const { cols, rows, T, offset, window } = rowsOf("softmaxBackward", y, o);
  const dx = ctx.empty(y.shape, "f32", "softmaxBackward");
  ctx.dispatch({
    kernel: "softmax",
    ...rowDispatch(ctx, "backward", rows, cols),
    params: { u: [rows, cols, T, o.causal ? 1 : 0, offset, window], f: [o.scale ?? 1] },
    bindings: [null, null, y, dy, dx],
  });
  return dx;
}
