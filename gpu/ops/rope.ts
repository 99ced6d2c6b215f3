// Rotary position embeddings (RoPE) as Llama, Mistral and Qwen2 use them in transformers: the
// rotate-half layout (value i of a head pairs with value i + headDim/2), angles pos * inv_freq.
// The cos/sin table is computed once on the CPU in float32 exactly as transformers does, so a
// GPU's own (less accurate, large-argument) cos and sin never enter.

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { elementWG, expectShape, fail, grid1d } from "./util";

export interface RopeSpec {
  /** rope_theta (the base). */
  theta: number;
  type: "default" | "linear" | "llama3";
  /** linear and llama3: the scaling factor. */
  factor?: number;
  /** llama3 only. */
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

const f32 = Math.fround;

/**
 * inv_freq exactly as transformers computes it, in float32 arithmetic like torch on the CPU:
 * `1.0 / (base ** (arange(0, dim, 2).float() / dim))` (torch's `scalar / tensor` is
 * `tensor.reciprocal() * scalar`), then linear: `/ factor`; llama3: `_compute_llama3_parameters`.
 * Each float32 operation is one double operation rounded to float32 (exact for + - * /; pow is
 * correctly rounded here, torch's powf within an ulp).
 */
export function ropeInvFreq(headDim: number, spec: RopeSpec): Float32Array {
  const op = "ropeInvFreq";
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) fail(op, `headDim must be an even integer >= 2, got ${headDim}`);
  if (!(spec.theta > 0)) fail(op, `theta must be > 0, got ${spec.theta}`);
  const base = f32(spec.theta);
  const inv = Float32Array.from({ length: headDim / 2 }, (_, i) => {
    const exponent = f32((2 * i) / headDim);
    return f32(1 / f32(Math.pow(base, exponent)));
  });
  if (spec.type === "default") return inv;
  const factor = spec.factor;
  if (factor === undefined || !(factor > 0)) fail(op, `${spec.type} RoPE needs factor > 0, got ${factor}`);
  const fac = f32(factor);
  if (spec.type === "linear") return inv.map((v) => f32(v / fac));
  if (spec.type !== "llama3") fail(op, `unknown RoPE type ${JSON.stringify(spec.type)}`);
  const { lowFreqFactor: low, highFreqFactor: high, originalMaxPositionEmbeddings: old } = spec;
  if (low === undefined || high === undefined || old === undefined || !(high > low) || !(low > 0) || !(old > 0)) {
    fail(op, `llama3 RoPE needs lowFreqFactor > 0, highFreqFactor > lowFreqFactor and originalMaxPositionEmbeddings > 0, got ${JSON.stringify(spec)}`);
  }
  // Python floats meet float32 tensors: each is rounded to float32 first.
  const lowFreqWavelen = f32(old / low);
  const highFreqWavelen = f32(old / high);
  const twoPi = f32(2 * Math.PI);
  const oldLen = f32(old);
  const lowF = f32(low);
  const span = f32(high - low);
  return inv.map((v) => {
    const wavelen = f32(f32(1 / v) * twoPi);
    const llama = wavelen > lowFreqWavelen ? f32(v / fac) : v;
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (!isMedium) return llama;
    const smooth = f32(f32(f32(f32(1 / wavelen) * oldLen) - lowF) / span);
    return f32(f32(f32(f32(1 - smooth) * llama) / fac) + f32(smooth * llama));
  });
}

export interface RopeTable {
  /** [maxPositions, headDim/2] f32 each: cos and sin of position * inv_freq. */
  cos: Tensor;
  sin: Tensor;
  maxPositions: number;
  headDim: number;
}

/** cos and sin of the angles as transformers' float32 path gives them (angle = f32(inv_freq * pos)). */
export function ropeAngles(invFreq: Float32Array, maxPositions: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(maxPositions * half);
  const sin = new Float32Array(maxPositions * half);
  for (let pos = 0; pos < maxPositions; pos++) {
    for (let i = 0; i < half; i++) {
      const angle = f32(invFreq[i] * f32(pos));
      cos[pos * half + i] = Math.cos(angle);
      sin[pos * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Uploads the cos/sin table for positions 0 .. maxPositions - 1 (the caller releases cos and sin). */
export function ropeTable(ctx: GpuContext, invFreq: Float32Array, maxPositions: number): RopeTable {
  if (invFreq.length < 1) fail("ropeTable", "invFreq is empty");
  if (!Number.isInteger(maxPositions) || maxPositions < 1) fail("ropeTable", `maxPositions must be an integer >= 1, got ${maxPositions}`);
  const half = invFreq.length;
  const { cos, sin } = ropeAngles(invFreq, maxPositions);
  return { cos: ctx.tensor(cos, [maxPositions, half]), sin: ctx.tensor(sin, [maxPositions, half]), maxPositions, headDim: 2 * half };
}

export interface RopeOptions {
  nHead: number;
  headDim: number;
  /** Position of the first token (decoding with a KV cache); default 0. */
  positionOffset?: number;
}

function rotate(ctx: GpuContext, op: string, x: Tensor, table: RopeTable, o: RopeOptions, sign: 1 | -1): Tensor {
  const { nHead, headDim } = o;
  const offset = o.positionOffset ?? 0;
  if (!Number.isInteger(nHead) || nHead < 1) fail(op, `nHead must be an integer >= 1, got ${nHead}`);
  if (headDim !== table.headDim) fail(op, `headDim ${headDim} differs from the table's ${table.headDim}`);
  if (x.rank !== 3 || x.shape[2] !== nHead * headDim) fail(op, `x must be [B, T, ${nHead} * ${headDim}], got ${formatShape(x.shape)}`);
  expectShape(op, "table.cos", table.cos, [table.maxPositions, headDim / 2]);
  expectShape(op, "table.sin", table.sin, [table.maxPositions, headDim / 2]);
  const [, T] = x.shape;
  if (!Number.isInteger(offset) || offset < 0) fail(op, `positionOffset must be an integer >= 0, got ${offset}`);
  if (offset + T > table.maxPositions) fail(op, `positions ${offset} .. ${offset + T - 1} pass the table's ${table.maxPositions} (x ${formatShape(x.shape)})`);
  const out = ctx.empty(x.shape, "f32", op);
  const pairs = x.size / 2;
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "rope",
    constants: { WG },
    params: { u: [pairs, T, nHead, headDim / 2, offset, table.maxPositions], f: [sign] },
    // x, cos_table, sin_table, out
    bindings: [x, table.cos, table.sin, out],
    groups: grid1d(ctx, pairs, WG),
  });
  return out;
}

/** x [B, T, nHead * headDim] rotated; token t at position positionOffset + t. */
export function rope(ctx: GpuContext, x: Tensor, table: RopeTable, o: RopeOptions): Tensor {
  return rotate(ctx, "rope", x, table, o, 1);
}

/** The gradient through rope: the inverse rotation of dy. */
export function ropeBackward(ctx: GpuContext, dy: Tensor, table: RopeTable, o: RopeOptions): Tensor {
  return rotate(ctx, "ropeBackward", dy, table, o, -1);
}
