// Hearth's GPU engine: browser, worker and Node alike. Node acquires its device through
// ./device-node (import that only from Node).

import { requestBrowserGpuContext, requestGpuContext, type GpuContext, type GpuContextOptions } from "./device";
import { selectMatmulVariant } from "./ops/matmul";
import { selectRowLayout } from "./ops/row-layout";

export * from "./device";
export * from "./tensor";
export * from "./ops/matmul";
export * from "./ops/elementwise";
export * from "./ops/linear";
export * from "./ops/layernorm";
export * from "./ops/softmax";
export * from "./ops/attention";
export * from "./ops/rmsnorm";
export * from "./ops/rope";
export * from "./ops/swiglu";
export * from "./ops/gqa";
export * from "./ops/embedding";
export * from "./ops/weight16";
export * from "./ops/cross-entropy";
export * from "./ops/adamw";
export * from "./ops/reduce";
export * from "./ops/row-layout";
export { ROW_LAYOUTS, type RowLayout } from "./ops/util";
export * from "./tuning";

/** Measures this adapter's kernel choices (matmul variant, row-kernel layout); cached per adapter. */
export async function tuneEngine(ctx: GpuContext, opts: { force?: boolean } = {}): Promise<void> {
  await selectMatmulVariant(ctx, opts);
  await selectRowLayout(ctx, opts);
}

export interface OpenGpuOptions extends GpuContextOptions {
  /** Measure kernel variants now (default) or keep the portable defaults. */
  autotune?: boolean;
}

/** Acquire a device from `gpu` and pick this adapter's kernel variants (measured once, cached). */
export async function openGpu(gpu: GPU | undefined, options: OpenGpuOptions = {}): Promise<GpuContext> {
  const ctx = await requestGpuContext(gpu, options);
  if (options.autotune !== false) await tuneEngine(ctx);
  return ctx;
}

/** openGpu on navigator.gpu (page or Web Worker). */
export async function openBrowserGpu(options: OpenGpuOptions = {}): Promise<GpuContext> {
  const ctx = await requestBrowserGpuContext(options);
  if (options.autotune !== false) await tuneEngine(ctx);
  return ctx;
}
