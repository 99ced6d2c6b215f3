// Matmul with transposed operands and (broadcast) batches, forward and backward, with several
// kernel variants chosen per adapter by a short measurement at first use.

import type { GpuContext } from "../device";
import { formatShape, shapeSize, type Tensor } from "../tensor";
import { expectRank, fail, placeholder } from "./util";
import { sumLeading } from "./reduce";
import { tuneChoice, type TuneResult } from "../tuning";

export type MatmulVariant = "naive" | "blocked" | "tiled" | "texture" | "texture_sg4";
export const MATMUL_VARIANTS: MatmulVariant[] = ["naive", "blocked", "tiled", "texture", "texture_sg4"];

/**
 * Variants this device can run: texture_sg4 needs subgroups (it checks the width itself), tiled
 * needs 256-invocation work groups and 8 KiB of workgroup memory.
 */
export function matmulVariants(ctx: GpuContext): MatmulVariant[] {
  return MATMUL_VARIANTS.filter((v) => {
    if (v === "texture_sg4") return ctx.features.subgroups;
    if (v === "tiled") return tiledFits(ctx);
    return true;
  });
}

function tiledFits(ctx: GpuContext): boolean {
  const l = ctx.limits;
  return l.maxComputeInvocationsPerWorkgroup >= 256 && l.maxComputeWorkgroupSizeX >= 16 && l.maxComputeWorkgroupSizeY >= 16 && l.maxComputeWorkgroupStorageSize >= 8192;
}

export interface MatmulOptions {
  /** Use a's last two axes transposed: a is [..., K, M]. */
  transA?: boolean;
  /** Use b's last two axes transposed: b is [..., N, K]. */
  transB?: boolean;
  /** Scales the product (attention's 1/sqrt(d)). */
  alpha?: number;
  /** Write into this tensor instead of a new one. */
  out?: Tensor;
  /** Add the product into `out` (gradient accumulation). */
  accumulate?: boolean;
  /** Force a kernel variant (tests, benchmarks); default: the adapter's measured choice. */
  variant?: MatmulVariant;
  /** Tests only: make texture_sg4 take its per-lane fallback path. */
  sgFallback?: boolean;
  /**
   * Triangular structure of each batch's product, so work on known zeros is skipped (causal
   * attention): "a-lower" op(A) is zero above its diagonal (k > m), "a-upper" zero below it
   * (k < m), "out-lower" only C's lower triangle (n <= m) is wanted: blocks entirely above it
   * are left undefined. Applies when the per-batch matrix is square (M = K, or M = N); variants
   * without the shortcut compute everything, which gives the same result.
   */
  triangular?: "a-lower" | "a-upper" | "out-lower";
  /** Epilogue (matmul_epilogue.wgsli): adds bias [N] to every row. */
  bias?: Tensor;
  /** Epilogue: adds this tensor (the result's shape, not `out` itself): a residual connection. */
  residual?: Tensor;
  /** Epilogue: also writes GELU of the result here (the result itself stays the GELU's input). */
  geluOut?: Tensor;
  /** Epilogue: multiplies the result by GELU's slope at this tensor: the backward through a GELU. */
  geluGradOf?: Tensor;
}

interface Plan {
  M: number;
  N: number;
  K: number;
  batch: number;
  batchA: number;
  batchB: number;
  outShape: number[];
  a: { batch: number; row: number; col: number };
  b: { batch: number; row: number; col: number };
}

function describe(t: Tensor, trans: boolean | undefined): string {
  return `${formatShape(t.shape)}${trans ? " (transposed)" : ""}`;
}

function plan(a: Tensor, b: Tensor, o: MatmulOptions): Plan {
  const op = "matmul";
  expectRank(op, "a", a, 2);
  expectRank(op, "b", b, 2);
  const ar = a.shape.length;
  const br = b.shape.length;
  const [aRows, aCols] = [a.shape[ar - 2], a.shape[ar - 1]];
  const [bRows, bCols] = [b.shape[br - 2], b.shape[br - 1]];
  const M = o.transA ? aCols : aRows;
  const K = o.transA ? aRows : aCols;
  const Kb = o.transB ? bCols : bRows;
  const N = o.transB ? bRows : bCols;
  if (K !== Kb) fail(op, `inner dimensions differ: a is ${describe(a, o.transA)}, b is ${describe(b, o.transB)}`);
  const batchShapeA = a.shape.slice(0, -2);
  const batchShapeB = b.shape.slice(0, -2);
  const batchA = shapeSize(batchShapeA);
  const batchB = shapeSize(batchShapeB);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) {
    fail(op, `batch dimensions differ: a is ${describe(a, o.transA)}, b is ${describe(b, o.transB)}`);
  }
  const batchShape = batchA >= batchB ? batchShapeA : batchShapeB;
  const p: Plan = {
    M,
    N,
    K,
    batch: Math.max(batchA, batchB),
    batchA,
    batchB,
    outShape: [...batchShape, M, N],
    a: { batch: batchA > 1 ? M * K : 0, row: o.transA ? 1 : K, col: o.transA ? M : 1 },
    b: { batch: batchB > 1 ? K * N : 0, row: o.transB ? 1 : N, col: o.transB ? K : 1 },
  };
  // A batch of row-major A against one shared B is a single taller matmul.
  if (batchA > 1 && batchB === 1 && !o.transA) {
    p.M = M * batchA;
    p.batch = 1;
    p.batchA = 1;
    p.a.batch = 0;
  }
  return p;
}

const DEFAULT_VARIANT: MatmulVariant = "blocked";

/** C = alpha * op(A) op(B) over the last two axes, batched over leading axes (one side may be unbatched). */
export function matmul(ctx: GpuContext, a: Tensor, b: Tensor, o: MatmulOptions = {}): Tensor {
  const p = plan(a, b, o);
  ctx.checkSize("matmul", "a", a.shape);
  ctx.checkSize("matmul", "b", b.shape);
  let out = o.out;
  if (out) {
    if (out.storage === a.storage || out.storage === b.storage) fail("matmul", `out ${formatShape(out.shape)} must not share a buffer with a or b`);
    if (out.size !== shapeSize(p.outShape)) {
      fail("matmul", `out is ${formatShape(out.shape)} but a ${describe(a, o.transA)} times b ${describe(b, o.transB)} is ${formatShape(p.outShape)}`);
    }
  } else {
    if (o.accumulate) fail("matmul", "accumulate needs an out tensor");
    out = ctx.empty(p.outShape, "f32", "matmul");
  }
  if (p.M === 0 || p.N === 0) return out;
  if (p.batch > ctx.limits.maxComputeWorkgroupsPerDimension) {
    fail("matmul", `batch of ${p.batch} exceeds the device's ${ctx.limits.maxComputeWorkgroupsPerDimension} for a ${formatShape(a.shape)} x ${formatShape(b.shape)} product`);
  }
  let variant =
    o.variant ??
    (ctx.choices.get(`matmul:${matmulShapeClass(p.M, p.N, p.K, p.batch)}`) as MatmulVariant | undefined) ??
    (ctx.choices.get("matmul") as MatmulVariant | undefined) ??
    DEFAULT_VARIANT;
  if (variant === "texture_sg4" && !ctx.features.subgroups) variant = "texture";
  if ((variant === "texture" || variant === "texture_sg4") && !textureFits(ctx, p)) variant = "blocked";
  if (variant === "tiled" && !tiledFits(ctx)) variant = "blocked";
  const alpha = o.alpha ?? 1;
  const acc = o.accumulate ? 1 : 0;
  const kmode = kmodeOf(o.triangular, p);
  const epi = epilogue(ctx, o, out, a, b, p);
  if (variant === "texture" || variant === "texture_sg4") {
    recordTexture(ctx, a, b, out, p, alpha, acc, variant === "texture_sg4" ? (o.sgFallback ? 2 : 1) : 0, kmode, epi);
    return out;
  }
  const u = [p.M, p.N, p.K, p.a.batch, p.a.row, p.a.col, p.b.batch, p.b.row, p.b.col, acc, kmode, epi.flags];
  if (variant === "tiled") {
    ctx.dispatch({ kernel: "matmul_tiled", label: profileLabel("tiled", p, o), params: { u, f: [alpha] }, bindings: [a, b, out, ...epi.bindings], groups: [Math.ceil(p.N / 64), Math.ceil(p.M / 64), p.batch] });
    return out;
  }
  const [WX, WY] = workgroup2d(ctx, variant === "naive" ? 16 : 8);
  const per = variant === "naive" ? 1 : 4;
  ctx.dispatch({
    kernel: variant === "naive" ? "matmul_naive" : "matmul_blocked",
    label: profileLabel(variant, p, o),
    constants: { WX, WY },
    params: { u, f: [alpha] },
    bindings: [a, b, out, ...epi.bindings],
    groups: [Math.ceil(p.N / per / WX), Math.ceil(p.M / per / WY), p.batch],
  });
  return out;
}

interface Epilogue {
  flags: number;
  /** Bindings 4..7 of matmul_epilogue.wgsli (placeholders where unused). */
  bindings: Tensor[];
}

function epilogue(ctx: GpuContext, o: MatmulOptions, out: Tensor, a: Tensor, b: Tensor, p: Plan): Epilogue {
  if (!o.bias && !o.residual && !o.geluOut && !o.geluGradOf) return { flags: 0, bindings: none(ctx) };
  const what = `a ${describe(a, o.transA)} times b ${describe(b, o.transB)}`;
  if (o.bias && o.bias.size !== p.N) fail("matmul", `bias is ${formatShape(o.bias.shape)} but ${what} has ${p.N} columns`);
  for (const [name, t] of [["residual", o.residual], ["geluOut", o.geluOut], ["geluGradOf", o.geluGradOf]] as const) {
    if (t && t.size !== out.size) fail("matmul", `${name} is ${formatShape(t.shape)} but ${what} is ${formatShape(p.outShape)}`);
    if (t && t.storage === out.storage) fail("matmul", `${name} ${formatShape(t.shape)} must not share a buffer with the output`);
  }
  if (o.geluOut && [a, b, o.bias, o.residual, o.geluGradOf].some((t) => t?.storage === o.geluOut!.storage)) {
    fail("matmul", `geluOut ${formatShape(o.geluOut.shape)} must not share a buffer with an input`);
  }
  const [r, , w] = none(ctx);
  return {
    flags: (o.bias ? 1 : 0) | (o.residual ? 2 : 0) | (o.geluOut ? 4 : 0) | (o.geluGradOf ? 8 : 0),
    bindings: [o.bias ?? r, o.residual ?? r, o.geluOut ?? w, o.geluGradOf ?? r],
  };
}

function none(ctx: GpuContext): Tensor[] {
  const [r, w] = [placeholder(ctx, "read"), placeholder(ctx, "write")];
  return [r, r, w, r];
}

function kmodeOf(t: MatmulOptions["triangular"], p: Plan): number {
  if ((t === "a-lower" || t === "a-upper") && p.M === p.K) return t === "a-lower" ? 1 : 2;
  if (t === "out-lower" && p.M === p.N) return 3;
  return 0;
}

function profileLabel(variant: string, p: Plan, o: MatmulOptions): string {
  return `matmul ${variant} ${p.batch > 1 ? `${p.batch}x` : ""}${p.M}x${p.N}x${p.K}${o.transA ? " tA" : ""}${o.transB ? " tB" : ""}`;
}

function workgroup2d(ctx: GpuContext, side: number): [number, number] {
  let x = Math.min(side, ctx.limits.maxComputeWorkgroupSizeX);
  let y = Math.min(side, ctx.limits.maxComputeWorkgroupSizeY);
  while (x * y > ctx.limits.maxComputeInvocationsPerWorkgroup) y > 1 ? (y /= 2) : (x /= 2);
  return [x, y];
}

// ---------- texture variant ----------

const TM = 16;

/** kBlock: K4 is padded to a multiple of this many texels (the sg4 kernel unrolls 4). */
function textureDims(p: Plan, kBlock = 1) {
  const K4 = Math.ceil(Math.ceil(p.K / 4) / kBlock) * kBlock;
  const aRowsPad = Math.ceil(p.M / TM) * TM;
  const bRowsPad = 4 * K4;
  const bWidth = Math.ceil(Math.ceil(p.N / 4) / 2) * 2;
  return { K4, aRowsPad, bRowsPad, bWidth, aHeight: p.batchA * aRowsPad, bHeight: p.batchB * bRowsPad };
}

function textureFits(ctx: GpuContext, p: Plan): boolean {
  const d = textureDims(p, 4);
  const max = ctx.limits.maxTextureDimension2D;
  return Math.max(d.K4, 1) <= max && d.bWidth <= max && d.aHeight <= max && d.bHeight <= max;
}

const texturePools = new WeakMap<GpuContext, Map<string, GPUTexture[]>>();

function acquireTexture(ctx: GpuContext, width: number, height: number): GPUTexture {
  let pools = texturePools.get(ctx);
  if (!pools) texturePools.set(ctx, (pools = new Map()));
  const key = `${width}x${height}`;
  const free = pools.get(key)?.pop();
  if (free) return free;
  const t = ctx.device.createTexture({
    size: [width, height],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING,
    label: `matmul-pack-${key}`,
  });
  textureSerials.set(t, nextTextureSerial++);
  return t;
}

// As the buffer pool: the oldest free texture goes first, so a repeated step binds the same ones.
const textureSerials = new WeakMap<GPUTexture, number>();
let nextTextureSerial = 1;

const views = new WeakMap<GPUTexture, GPUTextureView>();

/** One view per texture, so the dispatches that bind it reuse their bind groups. */
function viewOf(t: GPUTexture): GPUTextureView {
  let v = views.get(t);
  if (!v) views.set(t, (v = t.createView()));
  return v;
}

// Safe to reuse at once: later dispatches in the queue run after the ones recorded here.
function releaseTexture(ctx: GpuContext, t: GPUTexture): void {
  const pools = texturePools.get(ctx)!;
  const key = `${t.width}x${t.height}`;
  let list = pools.get(key);
  if (!list) pools.set(key, (list = []));
  const serial = textureSerials.get(t) ?? 0;
  let i = list.length;
  while (i > 0 && (textureSerials.get(list[i - 1]) ?? 0) < serial) i--;
  list.splice(i, 0, t);
}

/** sg: 0 plain texture kernel, 1 subgroup-sharing kernel, 2 its fallback path. */
function recordTexture(ctx: GpuContext, a: Tensor, b: Tensor, out: Tensor, p: Plan, alpha: number, acc: number, sg: 0 | 1 | 2, kmode: number, epi: Epilogue): void {
  const d = textureDims(p, sg ? 4 : 1);
  const texA = acquireTexture(ctx, Math.max(1, d.K4), Math.max(1, d.aHeight));
  const texB = acquireTexture(ctx, Math.max(1, d.bWidth), Math.max(1, d.bHeight));
  const [PX, PY] = workgroup2d(ctx, 8);
  const pack = (src: Tensor, tex: GPUTexture, rows: number, cols: number, rowsPad: number, batch: number, s: Plan["a"]) => {
    const u = [rows, cols, rowsPad, batch, tex.width, tex.height, s.batch, s.row, s.col];
    const groups: [number, number] = [Math.ceil(tex.width / PX), Math.ceil(tex.height / PY)];
    // vec4 loads when the rows (or, transposed, the columns) are 16-byte aligned runs
    const vec4Src = { buffer: src.buffer, size: Math.ceil(Math.max(16, src.byteLength) / 16) * 16 };
    const x4 = (n: number) => n % 4 === 0;
    if (s.col === 1 && x4(cols) && x4(s.row) && x4(s.batch)) {
      groups[0] = Math.ceil(tex.width / 4 / PX);
      ctx.dispatch({ kernel: "matmul_pack", entry: "rows4", constants: { WX: PX, WY: PY }, params: { u }, bindings: [null, viewOf(tex), vec4Src], groups });
    } else if (s.row === 1 && x4(rows) && x4(s.col) && x4(s.batch)) {
      groups[1] = Math.ceil(tex.height / 4 / PY);
      ctx.dispatch({ kernel: "matmul_pack", entry: "cols4", constants: { WX: PX, WY: PY }, params: { u }, bindings: [null, viewOf(tex), vec4Src], groups });
    } else {
      ctx.dispatch({ kernel: "matmul_pack", constants: { WX: PX, WY: PY }, params: { u }, bindings: [src, viewOf(tex)], groups });
    }
  };
  pack(a, texA, p.M, p.K, d.aRowsPad, p.batchA, p.a);
  pack(b, texB, p.K, p.N, d.bRowsPad, p.batchB, p.b);
  const [WX, WY] = workgroup2d(ctx, 8);
  const u = [p.M, p.N, d.K4, p.batchA > 1 ? d.aRowsPad : 0, p.batchB > 1 ? d.bRowsPad : 0, acc];
  ctx.dispatch({
    kernel: sg ? "matmul_texture_sg4" : "matmul_texture",
    label: profileLabel(sg ? "texture_sg4" : "texture", p, { transA: p.a.row === 1, transB: p.b.col !== 1 }),
    constants: sg ? { WX, WY } : { WX, WY, TM },
    params: { u: sg ? [...u, d.aRowsPad - TM, d.bWidth, sg === 2 ? 1 : 0, kmode, epi.flags] : [...u, kmode, epi.flags], f: [alpha] },
    bindings: [viewOf(texA), viewOf(texB), out, ...epi.bindings],
    groups: [Math.ceil(d.bWidth / 2 / WX), Math.ceil(Math.ceil(p.M / TM) / WY), p.batch],
  });
  releaseTexture(ctx, texA);
  releaseTexture(ctx, texB);
}

// ---------- backward ----------

export interface MatmulGrads {
  da: Tensor;
  db: Tensor;
}

/**
 * Gradients of C = alpha op(A) op(B) given dC. With `into`, adds them into existing tensors
 * (weight gradients accumulated across layers or micro-batches). A broadcast operand's gradient
 * is summed over the batch.
 */
export function matmulBackward(
  ctx: GpuContext,
  a: Tensor,
  b: Tensor,
  dc: Tensor,
  o: Omit<MatmulOptions, "out" | "accumulate"> & { into?: { da?: Tensor; db?: Tensor }; needA?: boolean; needB?: boolean } = {},
): Partial<MatmulGrads> {
  const p = plan(a, b, o);
  if (dc.size !== shapeSize(p.outShape)) {
    fail("matmulBackward", `dc is ${formatShape(dc.shape)} but a ${describe(a, o.transA)} times b ${describe(b, o.transB)} is ${formatShape(p.outShape)}`);
  }
  const dcv = dc.reshape(p.outShape);
  const common = { alpha: o.alpha, variant: o.variant };
  const grads: Partial<MatmulGrads> = {};
  const want = (x: boolean | undefined) => x !== false;
  // dA: (no trans) dC B^T, (transA) B dC^T, (transB) dC B, (both) B^T dC^T
  if (want(o.needA)) {
    const args: [Tensor, Tensor, MatmulOptions] = o.transA
      ? [b, dcv, { transA: o.transB, transB: true }]
      : [dcv, b, { transB: !o.transB }];
    grads.da = gradInto(ctx, "da", a, batchOf(a), p.batch === 1 ? 1 : Math.max(batchOf(a), batchOf(b)), args, common, o.into?.da, false);
  }
  // dB: (no trans) A^T dC, (transA) A dC, (transB) dC^T A, (both) dC^T A^T
  if (want(o.needB)) {
    const args: [Tensor, Tensor, MatmulOptions] = o.transB
      ? [dcv, a, { transA: true, transB: o.transA }]
      : [a, dcv, { transA: !o.transA }];
    grads.db = gradInto(ctx, "db", b, batchOf(b), Math.max(batchOf(a), batchOf(b)), args, common, o.into?.db, !o.transA);
  }
  return grads;
}

function batchOf(t: Tensor): number {
  return shapeSize(t.shape.slice(0, -2));
}

function gradInto(
  ctx: GpuContext,
  what: string,
  x: Tensor,
  batchX: number,
  batch: number,
  [l, r, t]: [Tensor, Tensor, MatmulOptions],
  common: MatmulOptions,
  into: Tensor | undefined,
  canFlatten: boolean,
): Tensor {
  if (into && into.size !== x.size) fail("matmulBackward", `into.${what} is ${formatShape(into.shape)} but must match ${formatShape(x.shape)}`);
  const opts = { ...t, ...common };
  const accumulate = { out: into, accumulate: !!into };
  if (batchX === batch || batch === 1) {
    const g = matmul(ctx, l, r, { ...opts, ...accumulate });
    return into ?? g.reshape(x.shape);
  }
  if (canFlatten) {
    // Shared weight, row-major activations: the sum over the batch is one product over all rows.
    const flat = (m: Tensor) => m.reshape([m.size / m.shape[m.rank - 1], m.shape[m.rank - 1]]);
    const g = matmul(ctx, flat(l), flat(r), { ...opts, ...accumulate });
    return into ?? g.reshape(x.shape);
  }
  // Broadcast operand otherwise: batched product, then a sum over the batch.
  const full = matmul(ctx, l, r, opts);
  const res = sumLeading(ctx, full.reshape([batch, x.size]), accumulate);
  full.release();
  return into ?? res.reshape(x.shape);
}

// ---------- per-adapter selection ----------

/**
 * Measures every variant on a short product and records the fastest in ctx.choices, cached per
 * adapter (in memory, and in options.tuningStore when given). Never guesses from vendor names.
 */
export async function selectMatmulVariant(ctx: GpuContext, opts: { size?: number; force?: boolean } = {}): Promise<TuneResult<MatmulVariant>> {
  const n = opts.size ?? 384;
  let inputs: { a: Tensor; b: Tensor; out: Tensor } | null = null;
  const result = await tuneChoice(
    ctx,
    "matmul",
    matmulVariants(ctx),
    (variant) => {
      if (!inputs) {
        const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 17) / 17 - 0.5);
        inputs = { a: ctx.tensor(data, [n, n]), b: ctx.tensor(data, [n, n]), out: ctx.empty([n, n]) };
      }
      const { a, b, out } = inputs;
      return () => void matmul(ctx, a, b, { variant, out });
    },
    { force: opts.force, fallback: DEFAULT_VARIANT },
  );
  if (inputs) for (const t of Object.values(inputs as Record<string, Tensor>)) t.release();
  return result;
}

export interface MatmulShapeSpec {
  M: number;
  N: number;
  K: number;
  /** Batch count (product of leading axes); 1 when unbatched. */
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  triangular?: MatmulOptions["triangular"];
}

/** Shapes whose sizes round to the same powers of two share a measured variant. */
export function matmulShapeClass(M: number, N: number, K: number, batch = 1): string {
  const l = (x: number) => Math.ceil(Math.log2(Math.max(1, x)));
  return `${l(M)}.${l(N)}.${l(K)}${batch > 1 ? "b" : ""}`;
}

/**
 * Measures the variants on a model's own matmul shapes (e.g. at model creation) so each shape
 * class gets its fastest kernel; other shapes use the adapter-wide choice. Cached per adapter.
 */
export async function selectMatmulVariantsFor(ctx: GpuContext, shapes: MatmulShapeSpec[], opts: { force?: boolean } = {}): Promise<Record<string, MatmulVariant>> {
  const out: Record<string, MatmulVariant> = {};
  for (const s of shapes) {
    const batch = s.batch ?? 1;
    const cls = matmulShapeClass(s.M, s.N, s.K, batch);
    if (out[cls]) continue;
    const lead = batch > 1 ? [batch] : [];
    // Operands only when something is measured: a class already chosen (this process, or the tuning
    // store) costs no upload, which for a large model's head is hundreds of MB.
    let operands: Tensor[] | null = null;
    const r = await tuneChoice(
      ctx,
      `matmul:${cls}`,
      matmulVariants(ctx),
      (variant) => {
        operands ??= [
          ctx.tensor(new Float32Array(batch * s.M * s.K).fill(0.5), [...lead, ...(s.transA ? [s.K, s.M] : [s.M, s.K])]),
          ctx.tensor(new Float32Array(batch * s.K * s.N).fill(0.25), [...lead, ...(s.transB ? [s.N, s.K] : [s.K, s.N])]),
          ctx.empty([...lead, s.M, s.N]),
        ];
        const [a, b, c] = operands;
        return () => void matmul(ctx, a, b, { transA: s.transA, transB: s.transB, triangular: s.triangular, out: c, variant });
      },
      { force: opts.force, fallback: DEFAULT_VARIANT },
    );
    out[cls] = r.choice;
    for (const t of (operands as Tensor[] | null) ?? []) t.release();
  }
  return out;
}
