// Linear layer y = x W (+ b) over the last axis, and its backward (adds dW and db into gradient
// tensors, returns dx): a convenience over matmul for engine users and the op tests. The GPT model
// does not use it: its projections call matmul directly, with LoRA and fused epilogues (nn/gpt.ts).

import type { GpuContext } from "../device";
import type { Tensor } from "../tensor";
import { biasAddBackward } from "./elementwise";
import { matmul, matmulBackward } from "./matmul";

/** x [..., in] times w [in, out] (plus bias [out], added in the matmul's epilogue) -> [..., out]. */
export function linear(ctx: GpuContext, x: Tensor, w: Tensor, bias?: Tensor): Tensor {
  return matmul(ctx, x, w, { bias });
}

/**
 * Adds dW = x^T dy into grads.dw (and db = sum of dy into grads.db); returns dx = dy W^T, or
 * nothing when `needInput` is false (the first layer after an embedding still needs it).
 */
export function linearBackward(
  ctx: GpuContext,
  x: Tensor,
  w: Tensor,
  dy: Tensor,
  grads: { dw: Tensor; db?: Tensor },
  o: { needInput?: boolean } = {},
): Tensor | undefined {
  const needA = o.needInput !== false;
  const { da } = matmulBackward(ctx, x, w, dy, { into: { db: grads.dw }, needA });
  if (grads.db) biasAddBackward(ctx, dy, { into: grads.db });
  return da;
}
