// Shared helpers for op wrappers: work-group sizes from device limits, dispatch grids, shape checks.

import { GpuError, type GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";

/** Work-group size for elementwise kernels: 256 where the device allows it. */
export function elementWG(ctx: GpuContext): number {
  return Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
}

/** Power-of-two work-group size for one-workgroup-per-row kernels, sized to the row length. */
export function rowWG(ctx: GpuContext, cols: number): number {
  const cap = Math.min(256, ctx.limits.maxComputeInvocationsPerWorkgroup, ctx.limits.maxComputeWorkgroupSizeX);
  let wg = 1;
  while (wg * 2 <= cap && wg * 2 <= Math.max(1, Math.ceil(cols / 2))) wg *= 2;
  return Math.max(1, Math.min(wg, cap));
}

/** A 2-D grid of `count` work groups, folded so no dimension exceeds the device limit. */
export function foldGroups(ctx: GpuContext, count: number): [number, number] {
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

export function grid1d(ctx: GpuContext, n: number, wg: number): [number, number] {
  return foldGroups(ctx, Math.ceil(n / wg));
}

export function fail(op: string, message: string): never {
  throw new GpuError(`${op}: ${message}`);
}

export function expectRank(op: string, name: string, t: Tensor, minRank: number): void {
  if (t.rank < minRank) fail(op, `${name} must have at least ${minRank} dimensions, got ${formatShape(t.shape)}`);
}

export function expectSameShape(op: string, names: [string, string], a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    fail(op, `shapes differ: ${names[0]} is ${formatShape(a.shape)}, ${names[1]} is ${formatShape(b.shape)}`);
  }
}

export function expectShape(op: string, name: string, t: Tensor, shape: readonly number[]): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(op, `${name} must be ${formatShape(shape)}, got ${formatShape(t.shape)}`);
  }
}

export function expectDtype(op: string, name: string, t: Tensor, dtypes: string[]): void {
  if (!dtypes.includes(t.dtype)) fail(op, `${name} must be ${dtypes.join(" or ")}, got ${t.dtype} ${formatShape(t.shape)}`);
}

export function lastDim(t: Tensor): number {
  return t.shape[t.shape.length - 1];
}

/** How row kernels (softmax, LayerNorm, cross-entropy, row sums) map rows to invocations. */
export type RowLayout = "workgroup" | "serial";
export const ROW_LAYOUTS: RowLayout[] = ["workgroup", "serial"];

export function rowLayout(ctx: GpuContext): RowLayout {
  return (ctx.choices.get("rows") as RowLayout | undefined) ?? "workgroup";
}

/** Entry point, work-group size and grid for a row kernel with `rows` rows of `cols` values. */
export function rowDispatch(ctx: GpuContext, entry: string, rows: number, cols: number): { entry: string; constants: { WG: number }; groups: [number, number] } {
  if (rowLayout(ctx) === "serial") {
    const WG = Math.min(64, elementWG(ctx));
    return { entry: `${entry}_serial`, constants: { WG }, groups: grid1d(ctx, rows, WG) };
  }
  return { entry, constants: { WG: rowWG(ctx, cols) }, groups: foldGroups(ctx, rows) };
}

const placeholders = new WeakMap<GpuContext, { read: Tensor; write: Tensor }>();

/**
 * A tiny tensor to bind where a kernel's optional input or output is unused (a pipeline's
 * bindings must all be bound). One read-only and one written placeholder per context, so a
 * dispatch never binds the same buffer both ways.
 */
export function placeholder(ctx: GpuContext, use: "read" | "write"): Tensor {
  let ph = placeholders.get(ctx);
  if (!ph) placeholders.set(ctx, (ph = { read: ctx.zeros([4], "f32", "placeholder"), write: ctx.zeros([4], "f32", "placeholder") }));
  return ph[use];
}
