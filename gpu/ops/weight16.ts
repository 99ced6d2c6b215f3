// Frozen 16-bit weights (f16 or bf16, as a checkpoint stores them), packed two per u32 on the GPU
// and unpacked exactly in the kernels (no shader-f16 needed: half_unpack.wgsli). Products and
// gathers read them; arithmetic, accumulation and every gradient are f32.
//   linear16:              y = x W^T (+ bias) (+ residual), W [out, in] (Hugging Face Linear layout)
//   linear16BackwardInput: dx = dy W
//   tokenEmbedding / tokenEmbeddingBackward: rows of an embedding table (f32 or 16-bit)

import type { GpuContext } from "../device";
import { formatShape, shapeSize, type Tensor } from "../tensor";
import { elementWG, expectDtype, fail, foldGroups, grid1d, lastDim, placeholder } from "./util";
import { matmul, matmulShapeClass } from "./matmul";
import { tuneChoice } from "../tuning";

export type HalfKind = "f16" | "bf16";

/** A 16-bit tensor on the GPU: `data` holds ceil(n / 2) u32 words, element 2i in the low half. */
export class Weight16 {
  constructor(
    readonly half: HalfKind,
    readonly shape: readonly number[],
    readonly data: Tensor<"u32">,
  ) {}
  get size(): number {
    return shapeSize(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get released(): boolean {
    return this.data.released;
  }
  release(): void {
    this.data.release();
  }
}

/** Either kind of weight a model holds. */
export type AnyWeight = Tensor | Weight16;

export function isWeight16(w: AnyWeight): w is Weight16 {
  return w instanceof Weight16;
}

/** Uploads raw little-endian 16-bit values (a safetensors F16/BF16 tensor's bytes, or Uint16Array). */
export function uploadWeight16(ctx: GpuContext, bits: Uint8Array | Uint16Array, shape: readonly number[], half: HalfKind): Weight16 {
  const n = shapeSize(shape);
  const bytes = bits instanceof Uint16Array ? new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength) : bits;
  if (bytes.length !== 2 * n) fail("uploadWeight16", `${bytes.length} bytes do not hold ${formatShape(shape)} 16-bit values`);
  const words = new Uint32Array(Math.max(1, Math.ceil(n / 2)));
  new Uint8Array(words.buffer).set(bytes);
  return new Weight16(half, [...shape], ctx.tensor(words, [words.length], "u32"));
}

/** The weight's raw little-endian bytes, exactly as uploaded (2 per element). */
export async function readWeight16Bytes(ctx: GpuContext, w: Weight16): Promise<Uint8Array> {
  const words = (await ctx.read(w.data)) as Uint32Array;
  return new Uint8Array(words.buffer, words.byteOffset, 2 * w.size).slice();
}

const HALF_CODE = { f16: 0, bf16: 1 } as const;

function wg2d(ctx: GpuContext): [number, number] {
  let x = Math.min(8, ctx.limits.maxComputeWorkgroupSizeX);
  let y = Math.min(8, ctx.limits.maxComputeWorkgroupSizeY);
  while (x * y > ctx.limits.maxComputeInvocationsPerWorkgroup) y > 1 ? (y /= 2) : (x /= 2);
  return [x, y];
}

/**
 * How a product with a 16-bit weight runs: "fused" reads and unpacks W inside the product (no
 * extra memory); "unpack" writes a transient f32 copy of W and runs the adapter's chosen f32
 * matmul on it (faster where that matmul is much better than a register-blocked one, e.g. on
 * SwiftShader; costs W's size in f32 while it runs). Same arithmetic either way: exact unpack, f32
 * products and sums. Chosen per shape class by selectLinear16VariantsFor; default "fused".
 */
export type Linear16Variant = "fused" | "unpack";
export const LINEAR16_VARIANTS: Linear16Variant[] = ["fused", "unpack"];

function variantOf(ctx: GpuContext, M: number, N: number, K: number, forced?: Linear16Variant): Linear16Variant {
  return forced ?? (ctx.choices.get(`w16:${matmulShapeClass(M, N, K)}`) as Linear16Variant | undefined) ?? "fused";
}

/** W [out, in] as a new f32 tensor (exact). */
export function unpackWeight16(ctx: GpuContext, w: Weight16): Tensor {
  const out = ctx.empty(w.shape, "f32", "unpackWeight16");
  const pairs = Math.ceil(w.size / 2);
  if (pairs === 0) return out;
  const WX = Math.min(64, ctx.limits.maxComputeWorkgroupSizeX);
  ctx.dispatch({
    kernel: "matmul_w16",
    entry: "unpack",
    constants: { WX, WY: 1, HALF: HALF_CODE[w.half] },
    params: { u: [w.size, 0, 0, 0, 0], f: [1] },
    bindings: [null, w.data, out],
    groups: foldGroups(ctx, Math.ceil(pairs / WX)),
  });
  return out;
}

export interface Linear16Options {
  variant?: Linear16Variant;
  bias?: Tensor;
  residual?: Tensor;
  alpha?: number;
  out?: Tensor;
  accumulate?: boolean;
}

function check16(op: string, w: Weight16): [number, number] {
  if (w.rank !== 2) fail(op, `w must be [out, in], got ${formatShape(w.shape)}`);
  if (w.released) fail(op, `w ${formatShape(w.shape)} was released`);
  return [w.shape[0], w.shape[1]];
}

/** x [..., in] times W^T for a 16-bit W [out, in] -> [..., out] (bias and residual fused). */
export function linear16(ctx: GpuContext, x: Tensor, w: Weight16, o: Linear16Options = {}): Tensor {
  const op = "linear16";
  const [N, K] = check16(op, w);
  expectDtype(op, "x", x, ["f32"]);
  if (lastDim(x) !== K) fail(op, `x ${formatShape(x.shape)} does not end in w's ${K} inputs (w ${formatShape(w.shape)})`);
  const M = x.size / K;
  const outShape = [...x.shape.slice(0, -1), N];
  if (o.bias && o.bias.size !== N) fail(op, `bias is ${formatShape(o.bias.shape)} but w has ${N} outputs`);
  if (o.residual && o.residual.size !== M * N) fail(op, `residual is ${formatShape(o.residual.shape)}, the result ${formatShape(outShape)}`);
  if (o.accumulate && !o.out) fail(op, "accumulate needs an out tensor");
  if (o.out && o.out.size !== M * N) fail(op, `out is ${formatShape(o.out.shape)}, the result ${formatShape(outShape)}`);
  if (M > 0 && N > 0 && variantOf(ctx, M, N, K, o.variant) === "unpack") {
    const wf = unpackWeight16(ctx, w);
    const y = matmul(ctx, x, wf, { transB: true, bias: o.bias, residual: o.residual, alpha: o.alpha, out: o.out, accumulate: o.accumulate });
    wf.release();
    return y;
  }
  const out = o.out ?? ctx.empty(outShape, "f32", op);
  if (M === 0 || N === 0) return out;
  const [WX, WY] = wg2d(ctx);
  const r = placeholder(ctx, "read");
  ctx.dispatch({
    kernel: "matmul_w16",
    entry: "forward",
    label: `matmul w16 ${M}x${N}x${K}`,
    constants: { WX, WY, HALF: HALF_CODE[w.half] },
    params: { u: [M, N, K, o.accumulate ? 1 : 0, (o.bias ? 1 : 0) | (o.residual ? 2 : 0)], f: [o.alpha ?? 1] },
    bindings: [x, w.data, out, o.bias ?? r, o.residual ?? r],
    groups: [Math.ceil(N / 4 / WX), Math.ceil(M / 4 / WY)],
  });
  return out;
}

/** dx [..., in] = dy [..., out] W for a 16-bit W [out, in] (the input gradient of linear16). */
export function linear16BackwardInput(ctx: GpuContext, dy: Tensor, w: Weight16, o: { alpha?: number; out?: Tensor; accumulate?: boolean; variant?: Linear16Variant } = {}): Tensor {
  const op = "linear16BackwardInput";
  const [N, K] = check16(op, w);
  if (lastDim(dy) !== N) fail(op, `dy ${formatShape(dy.shape)} does not end in w's ${N} outputs (w ${formatShape(w.shape)})`);
  const M = dy.size / N;
  const outShape = [...dy.shape.slice(0, -1), K];
  if (o.accumulate && !o.out) fail(op, "accumulate needs an out tensor");
  if (o.out && o.out.size !== M * K) fail(op, `out is ${formatShape(o.out.shape)}, the result ${formatShape(outShape)}`);
  if (M > 0 && K > 0 && variantOf(ctx, M, K, N, o.variant) === "unpack") {
    const wf = unpackWeight16(ctx, w);
    const dx = matmul(ctx, dy, wf, { alpha: o.alpha, out: o.out, accumulate: o.accumulate });
    wf.release();
    return o.out ?? dx.reshape(outShape);
  }
  const out = o.out ?? ctx.empty(outShape, "f32", op);
  if (M === 0 || K === 0) return out;
  const [WX, WY] = wg2d(ctx);
  ctx.dispatch({
    kernel: "matmul_w16",
    entry: "backward_input",
    label: `matmul w16 dx ${M}x${K}x${N}`,
    constants: { WX, WY, HALF: HALF_CODE[w.half] },
    params: { u: [M, N, K, o.accumulate ? 1 : 0, 0], f: [o.alpha ?? 1] },
    bindings: [dy, w.data, out],
    groups: [Math.ceil(K / 4 / WX), Math.ceil(M / 4 / WY)],
  });
  return out;
}

/** out [B, T, C] = table[tokens] for a table [V, C] in f32 or 16 bits. */
export function tokenEmbedding(ctx: GpuContext, tokens: Tensor, table: AnyWeight): Tensor {
  const op = "tokenEmbedding";
  expectDtype(op, "tokens", tokens, ["i32", "u32"]);
  if (table.rank !== 2) fail(op, `table must be [V, C], got ${formatShape(table.shape)}`);
  const [V, C] = table.shape;
  const BT = tokens.size;
  const out = ctx.empty([...tokens.shape, C], "f32", op);
  const WG = elementWG(ctx);
  const sixteen = isWeight16(table);
  ctx.dispatch({
    kernel: "token_embedding",
    entry: sixteen ? "gather_16" : "gather_f32",
    constants: sixteen ? { WG, HALF: HALF_CODE[table.half] } : { WG },
    params: { u: [BT, C, V, 1] },
    bindings: sixteen ? [tokens, null, table.data, out] : [tokens, table, null, out],
    groups: grid1d(ctx, BT * C, WG),
  });
  return out;
}

/** Adds the table's gradient for upstream dout [..., C] into dtable [V, C] (f32). */
export function tokenEmbeddingBackward(ctx: GpuContext, tokens: Tensor, dout: Tensor, dtable: Tensor): void {
  const op = "tokenEmbeddingBackward";
  expectDtype(op, "tokens", tokens, ["i32", "u32"]);
  const [V, C] = dtable.shape;
  if (dout.size !== tokens.size * C) fail(op, `dout ${formatShape(dout.shape)} must be tokens ${formatShape(tokens.shape)} by ${C}`);
  const WG = elementWG(ctx);
  const vchunks = Math.max(1, Math.min(V, Math.ceil(256 / Math.max(1, C))));
  ctx.dispatch({
    kernel: "token_embedding",
    entry: "backward",
    constants: { WG },
    params: { u: [tokens.size, C, V, vchunks] },
    bindings: [tokens, null, null, null, dout, dtable],
    groups: grid1d(ctx, C * vchunks, WG),
  });
}

/**
 * Measures both variants on a model's 16-bit products (M rows, W [N, K]; `input` for dx = dy W)
 * and records the faster per shape class in ctx.choices (cached per adapter like the matmul's).
 */
export async function selectLinear16VariantsFor(ctx: GpuContext, shapes: Array<{ M: number; N: number; K: number; input?: boolean }>, opts: { force?: boolean; half?: HalfKind } = {}): Promise<Record<string, Linear16Variant>> {
  const out: Record<string, Linear16Variant> = {};
  for (const s of shapes) {
    // the product's (rows, cols, inner): forward M x N x K; input gradient M x K x N
    const cls = s.input ? matmulShapeClass(s.M, s.K, s.N) : matmulShapeClass(s.M, s.N, s.K);
    if (out[cls]) continue;
    const w = uploadWeight16(ctx, new Uint16Array(s.N * s.K).fill(0x3c00), [s.N, s.K], opts.half ?? "bf16");
    const x = ctx.tensor(new Float32Array(s.M * (s.input ? s.N : s.K)).fill(0.5), [s.M, s.input ? s.N : s.K]);
    const y = ctx.empty([s.M, s.input ? s.K : s.N]);
    const r = await tuneChoice(
      ctx,
      `w16:${cls}`,
      LINEAR16_VARIANTS,
      (variant) => () => void (s.input ? linear16BackwardInput(ctx, x, w, { out: y, variant }) : linear16(ctx, x, w, { out: y, variant })),
      { force: opts.force, fallback: "fused" },
    );
    out[cls] = r.choice;
    w.release();
    x.release();
    y.release();
  }
  return out;
}
