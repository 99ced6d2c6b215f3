// The kernels Llama, Mistral and Qwen2 decoders add to the GPT ones: RMSNorm, RoPE, SwiGLU and
// grouped-query attention with a sliding window. Each kernel against its float64 CPU reference,
// each backward against central finite differences of that reference.

import { readFileSync } from "node:fs";
import { beforeEach, describe, expect, it } from "vitest";
import { ROW_LAYOUTS } from "../../gpu/ops/util";
import { rmsNorm, rmsNormBackward } from "../../gpu/ops/rmsnorm";
import { rope, ropeAngles, ropeBackward, ropeInvFreq, ropeTable, type RopeSpec } from "../../gpu/ops/rope";
import { swiglu, swigluBackward } from "../../gpu/ops/swiglu";
import { groupedQueryAttention, groupedQueryAttentionBackward, releaseGqaSaved, type GqaOptions } from "../../gpu/ops/gqa";
import { softmax } from "../../gpu/ops/softmax";
import { rmsNormBackwardRef, rmsNormRef } from "../../gpu/reference/rmsnorm";
import { ropeRef } from "../../gpu/reference/rope";
import { swigluBackwardRef, swigluRef } from "../../gpu/reference/swiglu";
import { gqaRef } from "../../gpu/reference/gqa";
import { expectClose, finiteDiff, gpuContext, randn, rng } from "./helpers";

describe.each(ROW_LAYOUTS)("RMSNorm (rows laid out per %s)", (layout) => {
  beforeEach(async () => {
    (await gpuContext()).choices.set("rows", layout);
  });

  it("forward matches the reference; backward matches finite differences, with residual and into", async () => {
    const ctx = await gpuContext();
    const r = rng(21);
    const eps = 1e-6;
    for (const shape of [[1, 1], [3, 7], [2, 3, 33], [2, 65], [4, 300]]) {
      const C = shape[shape.length - 1];
      const n = shape.reduce((a, b) => a * b, 1);
      const rows = n / C;
      const x = randn(r, n, 2);
      const w = randn(r, C);
      const dy = randn(r, n);
      const dres = randn(r, n);
      const prev = randn(r, C);
      const X = ctx.tensor(x, shape);
      const W = ctx.tensor(w, [C]);
      const dY = ctx.tensor(dy, shape);
      const fwd = rmsNorm(ctx, X, W, eps);
      expect(fwd.rstd.shape).toEqual(shape.slice(0, -1));
      const plain = rmsNormBackward(ctx, X, W, fwd, dY);
      const into = ctx.tensor(prev, [C]);
      const withRes = rmsNormBackward(ctx, X, W, fwd, dY, { residual: ctx.tensor(dres, shape), into: { dweight: into } });
      // the saved rstd may come back in another leading shape ([rows]) than x's
      const noW = rmsNormBackward(ctx, X, W, { rstd: fwd.rstd.reshape([rows]) }, dY, { needWeightGrad: false });
      expect(noW.dweight).toBeUndefined();
      expect(withRes.dweight).toBe(into);
      const [y, rstd, dx, dw, dxr, dwInto, dxNoW] = await ctx.readMany([fwd.y, fwd.rstd, plain.dx, plain.dweight!, withRes.dx, into, noW.dx]);
      const label = `${shape.join("x")}`;
      const ref = rmsNormRef(x, w, eps);
      expectClose(y, ref.y, `y ${label}`, 1e-4, 1e-4);
      expectClose(rstd, ref.rstd, `rstd ${label}`, 1e-5, 1e-4);
      const fdX = finiteDiff((v) => rmsNormRef(v, w, eps).y, x, dy);
      expectClose(dx, fdX, `dx ${label}`, 1e-3, 1e-3);
      expectClose(dx, rmsNormBackwardRef(x, w, dy, eps).dx, `dx analytic ${label}`, 1e-4, 1e-3);
      const fdW = finiteDiff((v) => rmsNormRef(x, v, eps).y, w, dy);
      expectClose(dw, fdW, `dweight ${label}`, 1e-3, 1e-3);
      expectClose(dwInto, fdW.map((v, i) => v + prev[i]), `dweight into ${label}`, 1e-3, 1e-3);
      expectClose(dxr, fdX.map((v, i) => v + dres[i]), `dx + residual ${label}`, 1e-3, 1e-3);
      expectClose(dxNoW, dx, `dx without the weight gradient ${label}`, 0, 0);
      expect(rows).toBe(rstd.length);
    }
  });

  it("eps matters where the mean square is tiny (the reference agrees, not just the formula)", async () => {
    const ctx = await gpuContext();
    const x = Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 1e-3 : -1e-3));
    const w = new Float32Array(16).fill(1);
    const [y] = await ctx.readMany([rmsNorm(ctx, ctx.tensor(x, [1, 16]), ctx.tensor(w, [16]), 1e-5).y]);
    // mean(x^2) = 1e-6 next to eps = 1e-5: y = x / sqrt(1.1e-5), about +-0.3, far from +-1
    expectClose(y, rmsNormRef(x, w, 1e-5).y, "tiny rows", 1e-5, 1e-4);
    expect(Math.abs(y[0])).toBeLessThan(0.31);
  });
});

describe("SwiGLU", () => {
  it("forward matches the reference over odd sizes and large |gate| without overflow", async () => {
    const ctx = await gpuContext();
    const r = rng(22);
    for (const shape of [[1], [7], [3, 33], [2, 5, 65], [1000]]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const gate = randn(r, n, 6);
      if (n > 2) {
        gate[0] = 120; // exp(120) overflows f32: a naive sigmoid gives inf / inf
        gate[1] = -120;
      }
      const up = randn(r, n, 2);
      const [out] = await ctx.readMany([swiglu(ctx, ctx.tensor(gate, shape), ctx.tensor(up, shape))]);
      expectClose(out, swigluRef(gate, up), `swiglu ${shape.join("x")}`, 1e-5, 1e-5);
    }
  });

  it("backward matches finite differences of the reference", async () => {
    const ctx = await gpuContext();
    const r = rng(23);
    const shape = [3, 5, 13];
    const n = 3 * 5 * 13;
    const gate = randn(r, n, 5);
    gate[0] = 90;
    gate[1] = -90;
    const up = randn(r, n, 2);
    const dy = randn(r, n);
    const G = ctx.tensor(gate, shape);
    const U = ctx.tensor(up, shape);
    const { dgate, dup } = swigluBackward(ctx, G, U, ctx.tensor(dy, shape));
    const [dg, du] = await ctx.readMany([dgate, dup]);
    expectClose(dg, finiteDiff((v) => swigluRef(v, up), gate, dy), "dgate", 1e-3, 1e-3);
    expectClose(du, finiteDiff((v) => swigluRef(gate, v), up, dy), "dup", 1e-3, 1e-3);
    expectClose(dg, swigluBackwardRef(gate, up, dy).dgate, "dgate analytic", 1e-5, 1e-4);
  });
});

interface OracleCase {
  inv: number[];
  pos: number[];
  cos: number[][];
  sin: number[][];
}

const oracle = JSON.parse(readFileSync(new URL("./fixtures/rope-oracle.json", import.meta.url), "utf8")) as Record<string, OracleCase>;

/** Distance in float32 ulps (both values are float32). */
function ulps(a: number, b: number): number {
  const ia = new Int32Array(Float32Array.of(a).buffer)[0];
  const ib = new Int32Array(Float32Array.of(b).buffer)[0];
  return Math.abs(ia - ib);
}

describe("RoPE", () => {
  // test/gpu/fixtures/rope-oracle.py made these with transformers' LlamaRotaryEmbedding (torch, CPU)
  const specs: Record<string, [number, RopeSpec]> = {
    default_d16_1e4: [16, { theta: 10000, type: "default" }],
    default_d128_1e6: [128, { theta: 1e6, type: "default" }],
    linear_d64_2: [64, { theta: 10000, type: "linear", factor: 2 }],
    llama3_d128: [128, { theta: 500000, type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }],
    llama3_d64_32: [64, { theta: 500000, type: "llama3", factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 }],
  };

  it("inv_freq and the cos/sin table match transformers' float32 values", () => {
    for (const [name, [headDim, spec]] of Object.entries(specs)) {
      const want = oracle[name];
      const inv = ropeInvFreq(headDim, spec);
      expect(inv.length, name).toBe(headDim / 2);
      // one float32 ulp at most: torch's powf is within an ulp of the correctly rounded pow
      const worst = Math.max(...Array.from(inv, (v, i) => ulps(v, want.inv[i])));
      expect(worst, `${name} inv_freq ulps`).toBeLessThanOrEqual(1);
      const maxPos = want.pos[want.pos.length - 1] + 1;
      const { cos, sin } = ropeAngles(Float32Array.from(want.inv), maxPos);
      const half = headDim / 2;
      want.pos.forEach((p, row) => {
        const got = (t: Float32Array) => t.slice(p * half, (p + 1) * half);
        // cos and sin of the same float32 angle: only the last-bit rounding of torch's sinf/cosf may differ
        expectClose(got(cos), want.cos[row], `${name} cos at ${p}`, 1.2e-7, 0);
        expectClose(got(sin), want.sin[row], `${name} sin at ${p}`, 1.2e-7, 0);
      });
    }
    // the llama3 split: the fastest frequencies untouched, the slowest divided by the factor, the middle smoothed
    const base = ropeInvFreq(128, specs.default_d128_1e6[1]);
    const l3 = ropeInvFreq(128, specs.llama3_d128[1]);
    const plain = ropeInvFreq(128, { theta: 500000, type: "default" });
    expect(l3[0]).toBe(plain[0]);
    expect(l3[63]).toBe(Math.fround(plain[63] / 8));
    expect(l3.some((v, i) => v !== plain[i] && v !== Math.fround(plain[i] / 8))).toBe(true);
    expect(base[1]).not.toBe(plain[1]);
  });

  it("rotates pairs i and i + headDim/2 of each head (a hand-worked head)", async () => {
    const ctx = await gpuContext();
    // headDim 4, one head, inv_freq [1, 0.5]: position 1 turns pair (0, 2) by 1 rad, pair (1, 3) by 0.5
    const table = ropeTable(ctx, Float32Array.of(1, 0.5), 2);
    const x = [1, 2, 3, 4, 1, 2, 3, 4];
    const [y] = await ctx.readMany([rope(ctx, ctx.tensor(x, [1, 2, 4]), table, { nHead: 1, headDim: 4 })]);
    const [c1, s1, c5, s5] = [Math.cos(1), Math.sin(1), Math.cos(0.5), Math.sin(0.5)];
    expectClose(y, [1, 2, 3, 4, 1 * c1 - 3 * s1, 2 * c5 - 4 * s5, 3 * c1 + 1 * s1, 4 * c5 + 2 * s5], "hand-worked", 1e-6, 1e-6);
  });

  it("forward matches the reference with position offsets; backward is the inverse rotation and matches finite differences", async () => {
    const ctx = await gpuContext();
    const r = rng(24);
    for (const [B, T, nHead, headDim, offset] of [[1, 1, 1, 2, 0], [2, 7, 3, 8, 0], [1, 5, 2, 16, 9], [2, 3, 4, 64, 40]]) {
      const maxPos = T + offset + 3;
      const inv = ropeInvFreq(headDim, { theta: 10000, type: "default" });
      const table = ropeTable(ctx, inv, maxPos);
      const { cos, sin } = ropeAngles(inv, maxPos);
      const n = B * T * nHead * headDim;
      const x = randn(r, n, 2);
      const dy = randn(r, n);
      const shape = [B, T, nHead * headDim];
      const o = { nHead, headDim, positionOffset: offset };
      const X = ctx.tensor(x, shape);
      const Y = rope(ctx, X, table, o);
      const back = ropeBackward(ctx, Y, table, o);
      const dX = ropeBackward(ctx, ctx.tensor(dy, shape), table, o);
      const [y, roundTrip, dx] = await ctx.readMany([Y, back, dX]);
      const label = `B${B} T${T} H${nHead} D${headDim} +${offset}`;
      const s = { B, T, nHead, headDim, positionOffset: offset };
      expectClose(y, ropeRef(x, cos, sin, s), `rope ${label}`, 1e-5, 1e-5);
      expectClose(roundTrip, x, `backward(rope(x)) = x ${label}`, 1e-5, 1e-5);
      if (n <= 2000) expectClose(dx, finiteDiff((v) => ropeRef(v, cos, sin, s), x, dy), `rope dx ${label}`, 1e-4, 1e-4);
      table.cos.release();
      table.sin.release();
    }
  });
});

interface GqaCase {
  B: number;
  Tq: number;
  Tk: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  window?: number;
  scale?: number;
}

// nKvHead = nHead, nHead/2 and 1; Tq = Tk and Tq < Tk (a KV cache); windows shorter than T
const gqaCases: GqaCase[] = [
  { B: 1, Tq: 1, Tk: 1, nHead: 1, nKvHead: 1, headDim: 8 },
  { B: 2, Tq: 7, Tk: 7, nHead: 4, nKvHead: 4, headDim: 8 },
  { B: 1, Tq: 7, Tk: 7, nHead: 4, nKvHead: 2, headDim: 16 },
  { B: 2, Tq: 7, Tk: 7, nHead: 3, nKvHead: 1, headDim: 8, window: 3 },
  { B: 1, Tq: 7, Tk: 7, nHead: 2, nKvHead: 2, headDim: 8, window: 2 },
  { B: 1, Tq: 3, Tk: 9, nHead: 4, nKvHead: 2, headDim: 8 },
  { B: 2, Tq: 1, Tk: 9, nHead: 6, nKvHead: 3, headDim: 8, window: 4 },
  { B: 1, Tq: 5, Tk: 7, nHead: 2, nKvHead: 1, headDim: 16, window: 2, scale: 0.3 },
];

function label(c: GqaCase): string {
  return `B${c.B} Tq${c.Tq} Tk${c.Tk} H${c.nHead}/${c.nKvHead} hd${c.headDim}${c.window ? ` W${c.window}` : ""}`;
}

function gqaInputs(r: () => number, c: GqaCase) {
  const q = randn(r, c.B * c.Tq * c.nHead * c.headDim);
  const k = randn(r, c.B * c.Tk * c.nKvHead * c.headDim);
  const v = randn(r, c.B * c.Tk * c.nKvHead * c.headDim);
  const dout = randn(r, c.B * c.Tq * c.nHead * c.headDim);
  return { q, k, v, dout };
}

describe.each(ROW_LAYOUTS)("grouped-query attention (softmax rows laid out per %s)", (layout) => {
  beforeEach(async () => {
    (await gpuContext()).choices.set("rows", layout);
  });

  it("forward matches the reference and backward matches finite differences on every shape", async () => {
    const ctx = await gpuContext();
    const r = rng(25);
    for (const c of gqaCases) {
      const { q, k, v, dout } = gqaInputs(r, c);
      const o: GqaOptions = { nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, window: c.window, scale: c.scale };
      const Q = ctx.tensor(q, [c.B, c.Tq, c.nHead * c.headDim]);
      const K = ctx.tensor(k, [c.B, c.Tk, c.nKvHead * c.headDim]);
      const V = ctx.tensor(v, [c.B, c.Tk, c.nKvHead * c.headDim]);
      const { out, saved } = groupedQueryAttention(ctx, Q, K, V, o);
      const { dq, dk, dv } = groupedQueryAttentionBackward(ctx, saved, ctx.tensor(dout, out.shape), o);
      expect(dk.shape).toEqual(K.shape);
      const [y, gq, gk, gv] = await ctx.readMany([out, dq, dk, dv]);
      const ref = (qv: ArrayLike<number>, kv: ArrayLike<number>, vv: ArrayLike<number>) => gqaRef(qv, kv, vv, c);
      expectClose(y, ref(q, k, v), `gqa ${label(c)}`);
      expectClose(gq, finiteDiff((x) => ref(x, k, v), q, dout), `gqa dq ${label(c)}`, 1e-3, 2e-3);
      expectClose(gk, finiteDiff((x) => ref(q, x, v), k, dout), `gqa dk ${label(c)}`, 1e-3, 2e-3);
      expectClose(gv, finiteDiff((x) => ref(q, k, x), v, dout), `gqa dv ${label(c)}`, 1e-3, 2e-3);
      releaseGqaSaved(saved);
    }
  });

  it("the window is transformers' (W keys including the query's own), and a window >= Tk changes nothing", async () => {
    const ctx = await gpuContext();
    const r = rng(26);
    const c = { B: 1, Tq: 6, Tk: 6, nHead: 2, nKvHead: 1, headDim: 8 };
    const { q, k, v } = gqaInputs(r, c);
    const [Q, K, V] = [ctx.tensor(q, [1, 6, 16]), ctx.tensor(k, [1, 6, 8]), ctx.tensor(v, [1, 6, 8])];
    const base = { nHead: 2, nKvHead: 1, headDim: 8 };
    const full = groupedQueryAttention(ctx, Q, K, V, base);
    const wide = groupedQueryAttention(ctx, Q, K, V, { ...base, window: 6 });
    const one = groupedQueryAttention(ctx, Q, K, V, { ...base, window: 1 });
    const [yFull, yWide, yOne, probs] = await ctx.readMany([full.out, wide.out, one.out, wide.saved.probs]);
    expectClose(yWide, yFull, "window 6 over 6 keys", 0, 0);
    // window 1: each query sees only its own key, so the output is that key's value
    const own = Float64Array.from({ length: 6 * 16 }, (_, i) => v[Math.floor(i / 16) * 8 + (i % 8)]);
    expectClose(yOne, own, "window 1", 1e-6, 1e-6);
    // transformers' mask for sliding_window = 3 over 5 positions (masking_utils docstring), query 4
    const mask = new Float32Array(5);
    const w3 = groupedQueryAttention(ctx, ctx.tensor(q.slice(0, 5 * 16), [1, 5, 16]), ctx.tensor(k.slice(0, 40), [1, 5, 8]), ctx.tensor(v.slice(0, 40), [1, 5, 8]), { ...base, window: 3 });
    const [p3] = await ctx.readMany([w3.saved.probs]);
    for (let j = 0; j < 5; j++) mask[j] = p3[4 * 5 + j] > 0 ? 1 : 0;
    expect(Array.from(mask)).toEqual([0, 0, 1, 1, 1]);
    expect(probs.every((p) => p >= 0 && p <= 1)).toBe(true);
    for (const s of [full, wide, one, w3]) releaseGqaSaved(s.saved);
  });
});

describe("grouped-query attention across matmul variants", () => {
  // Tq = Tk with nKvHead = nHead takes the triangular shortcuts of blocked and the texture variants
  for (const variant of ["naive", "blocked", "texture"] as const) {
    it(`matches the reference with matmul ${variant}`, async () => {
      const ctx = await gpuContext();
      const r = rng(27);
      for (const c of [gqaCases[1], gqaCases[3], gqaCases[5]]) {
        const { q, k, v, dout } = gqaInputs(r, c);
        const o: GqaOptions = { nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, window: c.window, variant };
        const { out, saved } = groupedQueryAttention(
          ctx,
          ctx.tensor(q, [c.B, c.Tq, c.nHead * c.headDim]),
          ctx.tensor(k, [c.B, c.Tk, c.nKvHead * c.headDim]),
          ctx.tensor(v, [c.B, c.Tk, c.nKvHead * c.headDim]),
          o,
        );
        const { dq, dk, dv } = groupedQueryAttentionBackward(ctx, saved, ctx.tensor(dout, out.shape), o);
        const [y, gq, gk, gv] = await ctx.readMany([out, dq, dk, dv]);
        const ref = (qv: ArrayLike<number>, kv: ArrayLike<number>, vv: ArrayLike<number>) => gqaRef(qv, kv, vv, c);
        expectClose(y, ref(q, k, v), `gqa ${variant} ${label(c)}`);
        expectClose(gq, finiteDiff((x) => ref(x, k, v), q, dout), `gqa ${variant} dq ${label(c)}`, 1e-3, 2e-3);
        expectClose(gk, finiteDiff((x) => ref(q, x, v), k, dout), `gqa ${variant} dk ${label(c)}`, 1e-3, 2e-3);
        expectClose(gv, finiteDiff((x) => ref(q, k, x), v, dout), `gqa ${variant} dv ${label(c)}`, 1e-3, 2e-3);
        releaseGqaSaved(saved);
      }
    });
  }
});

describe("bad shapes name the op", () => {
  it("throws before dispatching anything", async () => {
    const ctx = await gpuContext();
    const e = (shape: number[]) => ctx.empty(shape);
    expect(() => rmsNorm(ctx, e([4, 8]), e([7]), 1e-6)).toThrow("rmsNorm: weight must be [8], got [7]");
    expect(() => rmsNormBackward(ctx, e([4, 8]), e([8]), { rstd: e([4]) }, e([4, 9]))).toThrow("rmsNormBackward: shapes differ: x is [4,8], dy is [4,9]");
    expect(() => rmsNormBackward(ctx, e([4, 8]), e([8]), { rstd: e([4]) }, e([4, 8]), { into: { dweight: e([9]) } })).toThrow(
      "rmsNormBackward: into.dweight must be [8], got [9]",
    );
    expect(() => rmsNormBackward(ctx, e([4, 8]), e([8]), { rstd: e([3]) }, e([4, 8]))).toThrow("rmsNormBackward: saved.rstd must hold 4 rows (x [4,8]), got [3]");
    expect(() => swiglu(ctx, e([2, 6]), e([2, 5]))).toThrow("swiglu: shapes differ: gate is [2,6], up is [2,5]");
    expect(() => swigluBackward(ctx, e([2, 6]), e([2, 6]), e([6, 2]))).toThrow("swigluBackward: shapes differ: gate is [2,6], dy is [6,2]");
    expect(() => ropeInvFreq(7, { theta: 10000, type: "default" })).toThrow("ropeInvFreq: headDim must be an even integer >= 2, got 7");
    expect(() => ropeInvFreq(8, { theta: 10000, type: "llama3", factor: 8 })).toThrow("ropeInvFreq: llama3 RoPE needs lowFreqFactor");
    const table = ropeTable(ctx, Float32Array.of(1, 0.1), 8);
    expect(() => rope(ctx, e([1, 3, 8]), table, { nHead: 2, headDim: 8 })).toThrow("rope: headDim 8 differs from the table's 4");
    expect(() => rope(ctx, e([1, 3, 12]), table, { nHead: 2, headDim: 4 })).toThrow("rope: x must be [B, T, 2 * 4], got [1,3,12]");
    expect(() => ropeBackward(ctx, e([1, 3, 8]), table, { nHead: 2, headDim: 4, positionOffset: 6 })).toThrow(
      "ropeBackward: positions 6 .. 8 pass the table's 8 (x [1,3,8])",
    );
    const o = { nHead: 4, nKvHead: 2, headDim: 8 };
    const Q = e([2, 3, 32]);
    const K = e([2, 5, 16]);
    expect(() => groupedQueryAttention(ctx, Q, K, K, { ...o, nKvHead: 3 })).toThrow("groupedQueryAttention: nKvHead 3 does not divide nHead 4");
    expect(() => groupedQueryAttention(ctx, e([2, 3, 24]), K, K, o)).toThrow("groupedQueryAttention: q must be [B, Tq, 4 * 8] (q [2,3,24]");
    expect(() => groupedQueryAttention(ctx, Q, e([2, 5, 32]), K, o)).toThrow("groupedQueryAttention: k must be [2, Tk, 2 * 8]");
    expect(() => groupedQueryAttention(ctx, Q, K, e([2, 4, 16]), o)).toThrow("groupedQueryAttention: v must be [2,5,16], got [2,4,16]");
    expect(() => groupedQueryAttention(ctx, e([2, 6, 32]), K, K, o)).toThrow("groupedQueryAttention: needs 1 <= Tq <= Tk");
    expect(() => groupedQueryAttention(ctx, Q, K, K, { ...o, window: 0 })).toThrow("groupedQueryAttention: window must be an integer >= 1, got 0");
    const { saved } = groupedQueryAttention(ctx, Q, K, K, o);
    expect(() => groupedQueryAttentionBackward(ctx, saved, e([2, 3, 32]), { ...o, window: 2 })).toThrow("groupedQueryAttentionBackward: options");
    expect(() => groupedQueryAttentionBackward(ctx, saved, e([2, 4, 32]), o)).toThrow("groupedQueryAttentionBackward: dout must be [2,3,32], got [2,4,32]");
    releaseGqaSaved(saved);
    expect(() => softmax(ctx, e([2, 3, 4]), { window: 2 })).toThrow("softmax: window must be an integer >= 1 with causal");
  });
});

interface HfGqaCase extends GqaCase {
  window: number;
  q: number[];
  k: number[];
  v: number[];
  out: number[];
  dout: number[];
  dq: number[];
  dk: number[];
  dv: number[];
}

const hf = JSON.parse(readFileSync(new URL("./fixtures/llama-ops-oracle.json", import.meta.url), "utf8")) as {
  rmsnorm: { shape: number[]; eps: number; x: number[]; weight: number[]; y: number[]; dy: number[]; dx: number[]; dweight: number[] };
  swiglu: { shape: number[]; gate: number[]; up: number[]; out: number[]; dy: number[]; dgate: number[]; dup: number[] };
  rope: { B: number; T: number; nHead: number; headDim: number; positionOffset: number; theta: number; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number; x: number[]; y: number[]; dy: number[]; dx: number[] };
  gqa: HfGqaCase[];
};

// test/gpu/fixtures/llama-ops-oracle.py: transformers' own modules (torch float32, autograd for the
// gradients), so a convention our references share with our kernels cannot hide.
describe("parity with transformers' modules", () => {
  it("LlamaRMSNorm forward and autograd", async () => {
    const ctx = await gpuContext();
    const c = hf.rmsnorm;
    const C = c.shape[c.shape.length - 1];
    const X = ctx.tensor(c.x, c.shape);
    const W = ctx.tensor(c.weight, [C]);
    const fwd = rmsNorm(ctx, X, W, c.eps);
    const bwd = rmsNormBackward(ctx, X, W, fwd, ctx.tensor(c.dy, c.shape));
    const [y, dx, dw] = await ctx.readMany([fwd.y, bwd.dx, bwd.dweight!]);
    expectClose(y, c.y, "rmsnorm y", 1e-5, 1e-5);
    expectClose(dx, c.dx, "rmsnorm dx", 1e-5, 1e-4);
    expectClose(dw, c.dweight, "rmsnorm dweight", 1e-5, 1e-4);
  });

  it("silu(gate) * up forward and autograd", async () => {
    const ctx = await gpuContext();
    const c = hf.swiglu;
    const G = ctx.tensor(c.gate, c.shape);
    const U = ctx.tensor(c.up, c.shape);
    const { dgate, dup } = swigluBackward(ctx, G, U, ctx.tensor(c.dy, c.shape));
    const [out, dg, du] = await ctx.readMany([swiglu(ctx, G, U), dgate, dup]);
    expectClose(out, c.out, "swiglu", 1e-6, 1e-5);
    expectClose(dg, c.dgate, "swiglu dgate", 1e-6, 1e-5);
    expectClose(du, c.dup, "swiglu dup", 1e-6, 1e-5);
  });

  it("LlamaRotaryEmbedding (llama3 scaling) + apply_rotary_pos_emb at a position offset, and autograd", async () => {
    const ctx = await gpuContext();
    const c = hf.rope;
    const inv = ropeInvFreq(c.headDim, { theta: c.theta, type: "llama3", factor: c.factor, lowFreqFactor: c.lowFreqFactor, highFreqFactor: c.highFreqFactor, originalMaxPositionEmbeddings: c.originalMaxPositionEmbeddings });
    const table = ropeTable(ctx, inv, c.positionOffset + c.T);
    const shape = [c.B, c.T, c.nHead * c.headDim];
    const o = { nHead: c.nHead, headDim: c.headDim, positionOffset: c.positionOffset };
    const [y, dx] = await ctx.readMany([rope(ctx, ctx.tensor(c.x, shape), table, o), ropeBackward(ctx, ctx.tensor(c.dy, shape), table, o)]);
    expectClose(y, c.y, "rope y", 1e-6, 1e-5);
    expectClose(dx, c.dx, "rope dx", 1e-6, 1e-5);
  });

  it("Mistral eager attention (repeat_kv) under causal and sliding-window masks, forward and autograd", async () => {
    const ctx = await gpuContext();
    for (const c of hf.gqa) {
      const o: GqaOptions = { nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, window: c.window || undefined };
      const kvShape = [c.B, c.Tk, c.nKvHead * c.headDim];
      const { out, saved } = groupedQueryAttention(ctx, ctx.tensor(c.q, [c.B, c.Tq, c.nHead * c.headDim]), ctx.tensor(c.k, kvShape), ctx.tensor(c.v, kvShape), o);
      const { dq, dk, dv } = groupedQueryAttentionBackward(ctx, saved, ctx.tensor(c.dout, out.shape), o);
      const [y, gq, gk, gv] = await ctx.readMany([out, dq, dk, dv]);
      expectClose(y, c.out, `hf gqa ${label(c)}`, 1e-5, 1e-4);
      expectClose(gq, c.dq, `hf gqa dq ${label(c)}`, 1e-5, 1e-4);
      expectClose(gk, c.dk, `hf gqa dk ${label(c)}`, 1e-5, 1e-4);
      expectClose(gv, c.dv, `hf gqa dv ${label(c)}`, 1e-5, 1e-4);
      releaseGqaSaved(saved);
    }
  });
});
