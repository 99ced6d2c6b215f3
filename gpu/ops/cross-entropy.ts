// Cross-entropy from logits fused with the softmax. Targets < 0 are ignored (loss 0, gradient 0).

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { expectDtype, expectShape, fail, lastDim, rowDispatch } from "./util";

function dims(op: string, logits: Tensor, targets: Tensor) {
  if (logits.rank < 1) fail(op, `logits must have a class axis, got ${formatShape(logits.shape)}`);
  expectDtype(op, "targets", targets, ["i32"]);
  const V = lastDim(logits);
  const lead = logits.shape.slice(0, -1);
  if (targets.size !== (V === 0 ? 0 : logits.size / V)) {
    fail(op, `targets ${formatShape(targets.shape)} do not match logits ${formatShape(logits.shape)} (one target per row)`);
  }
  return { V, rows: targets.size, lead };
}

/** Per-row losses (shape: logits without its last axis). */
export function crossEntropy(ctx: GpuContext, logits: Tensor, targets: Tensor): Tensor {
  const { V, rows, lead } = dims("crossEntropy", logits, targets);
  const losses = ctx.empty(lead, "f32", "crossEntropy");
  ctx.dispatch({ kernel: "cross_entropy", ...rowDispatch(ctx, "forward", rows, V), params: { u: [rows, V], f: [0] }, bindings: [logits, targets, losses] });
  return losses;
}

/**
 * One kernel for training: per-row losses and dlogits = (softmax - onehot) * gradScale.
 * For the mean loss over N counted rows, use gradScale = 1 / N.
 */
export function crossEntropyWithGrad(ctx: GpuContext, logits: Tensor, targets: Tensor, gradScale: number): { losses: Tensor; dlogits: Tensor } {
  const { V, rows, lead } = dims("crossEntropyWithGrad", logits, targets);
  const losses = ctx.empty(lead, "f32", "crossEntropyWithGrad");
  const dlogits = ctx.empty(logits.shape, "f32", "crossEntropyWithGrad");
  ctx.dispatch({
    kernel: "cross_entropy",
    ...rowDispatch(ctx, "fused", rows, V),
    params: { u: [rows, V], f: [gradScale] },
    bindings: [logits, targets, losses, dlogits],
  });
  return { losses, dlogits };
}

/** dlogits from an upstream gradient per row. */
export function crossEntropyBackward(ctx: GpuContext, logits: Tensor, targets: Tensor, dlosses: Tensor): Tensor {
  const { V, rows, lead } = dims("crossEntropyBackward", logits, targets);
  expectShape("crossEntropyBackward", "dlosses", dlosses, lead);
  const dlogits = ctx.empty(logits.shape, "f32", "crossEntropyBackward");
  ctx.dispatch({
    kernel: "cross_entropy",
    ...rowDispatch(ctx, "backward", rows, V),
    params: { u: [rows, V], f: [0] },
    bindings: [logits, targets, null, dlogits, dlosses],
  });
  return dlogits;
}
