// Measured choice of how row kernels (softmax, LayerNorm, cross-entropy) map rows to invocations.

import type { GpuContext } from "../device";
import { tuneChoice, type TuneResult } from "../tuning";
import { crossEntropyWithGrad } from "./cross-entropy";
import { softmax } from "./softmax";
import { ROW_LAYOUTS, type RowLayout } from "./util";

export async function selectRowLayout(ctx: GpuContext, opts: { force?: boolean } = {}): Promise<TuneResult<RowLayout>> {
  const [rows, cols] = [256, 512];
  const x = ctx.tensor(Float32Array.from({ length: rows * cols }, (_, i) => ((i * 31) % 19) / 19), [rows, cols]);
  const targets = ctx.tensor(Int32Array.from({ length: rows }, (_, i) => i % cols), [rows], "i32");
  const result = await tuneChoice(
    ctx,
    "rows",
    ROW_LAYOUTS,
    (layout) => () => {
      ctx.choices.set("rows", layout);
      softmax(ctx, x).release();
      const { losses, dlogits } = crossEntropyWithGrad(ctx, x, targets, 1);
      losses.release();
      dlogits.release();
    },
    { force: opts.force, fallback: "workgroup" },
  );
  x.release();
  targets.release();
  return result;
}
