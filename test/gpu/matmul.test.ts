import { describe, expect, it } from "vitest";
import { matmul, matmulBackward, matmulShapeClass, matmulVariants, selectMatmulVariantsFor, MATMUL_VARIANTS, selectMatmulVariant, type MatmulVariant } from "../../gpu/ops/matmul";
import { matmulRef } from "../../gpu/reference/matmul";
import { biasAddRef, geluBackwardRef, geluRef } from "../../gpu/reference/elementwise";
import type { Tensor } from "../../gpu/tensor";
import { expectClose, finiteDiff, gpuContext, randInt, randn, rng } from "./helpers";

interface Case {
  batchA: number[];
  batchB: number[];
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  alpha?: number;
}

function shapes(c: Case) {
  const aShape = [...c.batchA, ...(c.transA ? [c.K, c.M] : [c.M, c.K])];
  const bShape = [...c.batchB, ...(c.transB ? [c.N, c.K] : [c.K, c.N])];
  const nA = c.batchA.reduce((x, y) => x * y, 1);
  const nB = c.batchB.reduce((x, y) => x * y, 1);
  return { aShape, bShape, nA, nB };
}

// Sizes off every tile multiple (1, 7, 33, 65) plus transposes, batches and broadcasts.
const fixed: Case[] = [
  { batchA: [], batchB: [], M: 1, N: 1, K: 1, transA: false, transB: false },
  { batchA: [], batchB: [], M: 33, N: 65, K: 7, transA: false, transB: false },
  { batchA: [], batchB: [], M: 65, N: 33, K: 17, transA: true, transB: false },
  { batchA: [], batchB: [], M: 7, N: 66, K: 33, transA: false, transB: true },
  { batchA: [], batchB: [], M: 17, N: 9, K: 5, transA: true, transB: true, alpha: 0.25 },
  { batchA: [3], batchB: [3], M: 9, N: 13, K: 6, transA: false, transB: true },
  { batchA: [2, 3], batchB: [], M: 5, N: 11, K: 10, transA: false, transB: false },
  { batchA: [2], batchB: [], M: 5, N: 11, K: 10, transA: true, transB: false },
  { batchA: [], batchB: [4], M: 6, N: 7, K: 3, transA: false, transB: false },
  { batchA: [2], batchB: [2], M: 64, N: 64, K: 64, transA: false, transB: false },
  // multiples of 4: the texture variants' vec4 packing (rows, and transposed columns)
  { batchA: [3], batchB: [3], M: 12, N: 20, K: 8, transA: true, transB: true },
  { batchA: [2], batchB: [], M: 8, N: 12, K: 20, transA: true, transB: false },
  { batchA: [], batchB: [], M: 36, N: 4, K: 44, transA: false, transB: true },
  { batchA: [], batchB: [2], M: 16, N: 8, K: 4, transA: true, transB: false },
];

function randomCases(seed: number, n: number): Case[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => {
    const batched = r() < 0.5;
    const nb = randInt(r, 2, 3);
    const broadcast = r();
    return {
      batchA: batched && broadcast < 0.7 ? [nb] : [],
      batchB: batched && broadcast > 0.3 ? [nb] : [],
      M: randInt(r, 1, 70),
      N: randInt(r, 1, 70),
      K: randInt(r, 1, 70),
      transA: r() < 0.5,
      transB: r() < 0.5,
      alpha: r() < 0.3 ? 0.5 : undefined,
    };
  });
}

const label = (c: Case) => `${JSON.stringify(c.batchA)}x${JSON.stringify(c.batchB)} M${c.M} N${c.N} K${c.K}${c.transA ? " tA" : ""}${c.transB ? " tB" : ""}`;

describe("matmul forward matches the float64 reference", () => {
  const runs: Array<{ variant: MatmulVariant; sgFallback?: boolean }> = [
    ...MATMUL_VARIANTS.map((variant) => ({ variant })),
    { variant: "texture_sg4", sgFallback: true },
  ];
  for (const { variant, sgFallback } of runs) {
    it(`variant ${variant}${sgFallback ? " (per-lane fallback path)" : ""} over fixed and random shapes`, async () => {
      const ctx = await gpuContext();
      const r = rng(variant.length * 101);
      const cases = [...fixed, ...randomCases(7 + variant.length, 10)];
      const outs: Tensor[] = [];
      const refs: Float64Array[] = [];
      for (const c of cases) {
        const { aShape, bShape, nA, nB } = shapes(c);
        const a = randn(r, aShape.reduce((x, y) => x * y, 1));
        const b = randn(r, bShape.reduce((x, y) => x * y, 1));
        const A = ctx.tensor(a, aShape);
        const B = ctx.tensor(b, bShape);
        const C = matmul(ctx, A, B, { transA: c.transA, transB: c.transB, alpha: c.alpha, variant, sgFallback });
        expect(C.shape.slice(-2)).toEqual([c.M, c.N]);
        outs.push(C);
        refs.push(matmulRef(a, b, { batchA: nA, batchB: nB, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, alpha: c.alpha }));
        A.release();
        B.release();
      }
      const got = await ctx.readMany(outs);
      cases.forEach((c, i) => expectClose(got[i], refs[i], `${variant} ${label(c)}`));
      outs.forEach((t) => t.release());
    });
  }

  it("accumulates into an existing output", async () => {
    const ctx = await gpuContext();
    const r = rng(5);
    const a = randn(r, 7 * 5);
    const b = randn(r, 5 * 9);
    const c0 = randn(r, 7 * 9);
    const out = ctx.tensor(c0, [7, 9]);
    matmul(ctx, ctx.tensor(a, [7, 5]), ctx.tensor(b, [5, 9]), { out, accumulate: true });
    const ref = matmulRef(a, b, { batchA: 1, batchB: 1, M: 7, N: 9, K: 5 }).map((v, i) => v + c0[i]);
    expectClose(await ctx.read(out), ref, "accumulate");
  });
});

describe("triangular products (causal attention) skip known zeros and match the reference", () => {
  // per batch: T x T triangular op(A) times [T, N], and T x hd times hd x T wanting only C's lower triangle
  const tri = (r: () => number, batch: number, T: number, lower: boolean) =>
    Float32Array.from({ length: batch * T * T }, (_, i) => {
      const [row, col] = [Math.floor(i / T) % T, i % T];
      return (lower ? col <= row : col >= row) ? r() * 2 - 1 : 0;
    });
  for (const variant of MATMUL_VARIANTS) {
    it(`variant ${variant}`, async () => {
      const ctx = await gpuContext();
      const r = rng(21);
      for (const [batch, T, N] of [[1, 5, 3], [2, 37, 8], [3, 64, 16], [1, 100, 12]]) {
        // a-lower: P v (A lower);  a-upper: P^T dy (A stored lower, used transposed)
        const P = tri(r, batch, T, true);
        const v = randn(r, batch * T * N);
        const dims = { batchA: batch, batchB: batch, M: T, N, K: T };
        const lower = matmul(ctx, ctx.tensor(P, [batch, T, T]), ctx.tensor(v, [batch, T, N]), { variant, triangular: "a-lower" });
        const upper = matmul(ctx, ctx.tensor(P, [batch, T, T]), ctx.tensor(v, [batch, T, N]), { variant, transA: true, triangular: "a-upper" });
        // out-lower: q k^T with only n <= m wanted; the rest keeps what was there
        const q = randn(r, batch * T * N);
        const k = randn(r, batch * T * N);
        const sentinel = 12345;
        const out = ctx.tensor(new Float32Array(batch * T * T).fill(sentinel), [batch, T, T]);
        matmul(ctx, ctx.tensor(q, [batch, T, N]), ctx.tensor(k, [batch, T, N]), { variant, transB: true, out, triangular: "out-lower" });
        const [gl, gu, go] = await ctx.readMany([lower, upper, out]);
        expectClose(gl, matmulRef(P, v, dims), `${variant} a-lower b${batch} T${T} N${N}`);
        expectClose(gu, matmulRef(P, v, { ...dims, transA: true }), `${variant} a-upper b${batch} T${T} N${N}`);
        const full = matmulRef(q, k, { batchA: batch, batchB: batch, M: T, N: T, K: N, transB: true });
        const lowerOf = (x: ArrayLike<number>) => Array.from(x).filter((_, i) => i % T <= Math.floor(i / T) % T);
        expectClose(lowerOf(go), lowerOf(full), `${variant} out-lower b${batch} T${T} N${N}`);
        // variants with the shortcut leave whole blocks above the diagonal untouched
        const kept = Array.from(go).filter((x) => x === sentinel).length;
        if (variant === "blocked" || variant.startsWith("texture")) {
          if (T >= 37) expect(kept, `${variant} skipped blocks above the diagonal`).toBeGreaterThan(0);
        } else expect(kept).toBe(0);
      }
    });
  }
});

describe("matmul epilogue: bias, residual and GELU fused into the store", () => {
  for (const variant of MATMUL_VARIANTS) {
    it(`variant ${variant} matches the separate ops' references; the GELU backward matches finite differences`, async () => {
      const ctx = await gpuContext();
      const r = rng(31);
      const cases: Case[] = [
        { batchA: [], batchB: [], M: 33, N: 65, K: 7, transA: false, transB: false },
        { batchA: [2, 3], batchB: [], M: 5, N: 12, K: 10, transA: false, transB: false },
        { batchA: [], batchB: [], M: 20, N: 9, K: 16, transA: true, transB: true, alpha: 0.5 },
        { batchA: [2], batchB: [2], M: 16, N: 8, K: 12, transA: false, transB: true },
      ];
      for (const c of cases) {
        const { aShape, bShape, nA, nB } = shapes(c);
        const batch = Math.max(nA, nB);
        const a = randn(r, aShape.reduce((x, y) => x * y, 1));
        const b = randn(r, bShape.reduce((x, y) => x * y, 1));
        const bias = randn(r, c.N);
        const res = randn(r, batch * c.M * c.N);
        const prev = randn(r, batch * c.M * c.N);
        const A = ctx.tensor(a, aShape);
        const B = ctx.tensor(b, bShape);
        const o = { transA: c.transA, transB: c.transB, alpha: c.alpha, variant };
        const prod = matmulRef(a, b, { batchA: nA, batchB: nB, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, alpha: c.alpha });
        const outShape = [...(batch > 1 ? [batch] : []), c.M, c.N];
        // bias + GELU (the MLP's first layer)
        const g = ctx.empty(outShape);
        const h = matmul(ctx, A, B, { ...o, bias: ctx.tensor(bias, [c.N]), geluOut: g });
        // bias + residual, accumulated onto an existing output
        const acc = ctx.tensor(prev, outShape);
        matmul(ctx, A, B, { ...o, bias: ctx.tensor(bias, [c.N]), residual: ctx.tensor(res, outShape), out: acc, accumulate: true });
        // times GELU's slope (the backward through that GELU)
        const slopeAt = randn(r, batch * c.M * c.N, 2);
        const dg = matmul(ctx, A, B, { ...o, geluGradOf: ctx.tensor(slopeAt, outShape) });
        const [gh, gg, gacc, gdg] = await ctx.readMany([h, g, acc, dg]);
        const hRef = biasAddRef(prod, bias);
        expectClose(gh, hRef, `${variant} bias ${label(c)}`);
        expectClose(gg, geluRef(hRef), `${variant} bias + gelu ${label(c)}`);
        expectClose(gacc, hRef.map((v, i) => v + res[i] + prev[i]), `${variant} bias + residual + accumulate ${label(c)}`);
        expectClose(gdg, geluBackwardRef(slopeAt, prod), `${variant} gelu slope ${label(c)}`);
      }
      // d/dh sum(r * (gelu(h) W)) = (r W^T) * gelu'(h), as the GPT's MLP backward records it
      const [M, H4, C] = [6, 8, 5];
      const hv = randn(r, M * H4, 2);
      const w = randn(r, H4 * C);
      const up = randn(r, M * C);
      const dh = matmul(ctx, ctx.tensor(up, [M, C]), ctx.tensor(w, [H4, C]), { transB: true, geluGradOf: ctx.tensor(hv, [M, H4]), variant });
      const fd = finiteDiff((x) => matmulRef(geluRef(x), w, { batchA: 1, batchB: 1, M, N: C, K: H4 }), hv, up);
      expectClose(await ctx.read(dh), fd, `${variant} GELU backward epilogue vs finite differences`, 1e-3, 1e-3);
    });
  }

  it("names the op and shapes for a bias or residual that does not fit", async () => {
    const ctx = await gpuContext();
    const a = ctx.empty([4, 5]);
    const b = ctx.empty([5, 3]);
    expect(() => matmul(ctx, a, b, { bias: ctx.empty([4]) })).toThrow("matmul: bias is [4] but a [4,5] times b [5,3] has 3 columns");
    expect(() => matmul(ctx, a, b, { residual: ctx.empty([3, 4]) })).not.toThrow();
    expect(() => matmul(ctx, a, b, { residual: ctx.empty([4, 4]) })).toThrow("matmul: residual is [4,4] but a [4,5] times b [5,3] is [4,3]");
    const out = ctx.empty([4, 3]);
    expect(() => matmul(ctx, a, b, { out, residual: out })).toThrow("matmul: residual [4,3] must not share a buffer with the output");
    const sq = ctx.empty([4, 4]);
    expect(() => matmul(ctx, sq, ctx.empty([4, 4]), { geluOut: sq })).toThrow("matmul: geluOut [4,4] must not share a buffer with an input");
  });
});

describe("matmul backward matches finite differences of the reference", () => {
  const cases: Case[] = [
    { batchA: [], batchB: [], M: 5, N: 7, K: 3, transA: false, transB: false },
    { batchA: [], batchB: [], M: 4, N: 3, K: 6, transA: true, transB: false },
    { batchA: [], batchB: [], M: 3, N: 5, K: 4, transA: false, transB: true, alpha: 0.5 },
    { batchA: [2], batchB: [2], M: 3, N: 4, K: 5, transA: true, transB: true },
    { batchA: [2], batchB: [], M: 3, N: 4, K: 5, transA: false, transB: false },
    { batchA: [2], batchB: [], M: 3, N: 4, K: 5, transA: true, transB: true },
    { batchA: [], batchB: [3], M: 2, N: 4, K: 3, transA: false, transB: true },
  ];
  for (const variant of ["blocked", "tiled", "texture", "texture_sg4"] as MatmulVariant[]) {
    it(`variant ${variant}: dA and dB for transposes and broadcast batches`, async () => {
      const ctx = await gpuContext();
      const r = rng(11);
      for (const c of cases) {
        const { aShape, bShape, nA, nB } = shapes(c);
        const a = randn(r, aShape.reduce((x, y) => x * y, 1));
        const b = randn(r, bShape.reduce((x, y) => x * y, 1));
        const dims = { batchA: nA, batchB: nB, M: c.M, N: c.N, K: c.K, transA: c.transA, transB: c.transB, alpha: c.alpha };
        const dc = randn(r, Math.max(nA, nB) * c.M * c.N);
        const A = ctx.tensor(a, aShape);
        const B = ctx.tensor(b, bShape);
        const C = matmul(ctx, A, B, { transA: c.transA, transB: c.transB });
        const dC = ctx.tensor(dc, C.shape);
        const { da, db } = matmulBackward(ctx, A, B, dC, { transA: c.transA, transB: c.transB, alpha: c.alpha, variant });
        expect(da!.shape).toEqual(aShape);
        expect(db!.shape).toEqual(bShape);
        const [gA, gB] = await ctx.readMany([da!, db!]);
        expectClose(gA, finiteDiff((x) => matmulRef(x, b, dims), a, dc), `dA ${label(c)}`, 1e-3, 1e-3);
        expectClose(gB, finiteDiff((x) => matmulRef(a, x, dims), b, dc), `dB ${label(c)}`, 1e-3, 1e-3);
        for (const t of [A, B, C, dC, da!, db!]) t.release();
      }
    });
  }

  it("adds weight gradients into existing tensors with `into`", async () => {
    const ctx = await gpuContext();
    const r = rng(3);
    const a = randn(r, 2 * 3 * 4);
    const w = randn(r, 4 * 5);
    const dc = randn(r, 2 * 3 * 5);
    const prev = randn(r, 4 * 5);
    const into = ctx.tensor(prev, [4, 5]);
    const A = ctx.tensor(a, [2, 3, 4]);
    const { db } = matmulBackward(ctx, A, ctx.tensor(w, [4, 5]), ctx.tensor(dc, [2, 3, 5]), { into: { db: into }, needA: false });
    expect(db).toBe(into);
    const fd = finiteDiff((x) => matmulRef(a, x, { batchA: 2, batchB: 1, M: 3, N: 5, K: 4 }), w, dc);
    expectClose(await ctx.read(into), fd.map((v, i) => v + prev[i]), "db accumulated", 1e-3, 1e-3);
  });
});

describe("matmul variant selection", () => {
  it("measures the variants once per adapter and reuses the choice", async () => {
    const ctx = await gpuContext();
    const stored = new Map<string, string>();
    const store = { get: (k: string) => stored.get(k), set: (k: string, v: string) => void stored.set(k, v) };
    Object.assign(ctx.options, { tuningStore: store });
    const first = await selectMatmulVariant(ctx, { size: 64, force: true });
    expect(MATMUL_VARIANTS).toContain(first.choice);
    expect(Object.keys(first.timings).sort()).toEqual(matmulVariants(ctx).sort());
    expect(ctx.choices.get("matmul")).toBe(first.choice);
    expect([...stored.values()]).toEqual([first.choice]);
    const again = await selectMatmulVariant(ctx);
    expect(again.choice).toBe(first.choice);
    expect(again.timings).toEqual({});
  });

  it("measures per shape class for a model's own shapes, falling back to the adapter-wide choice", async () => {
    const ctx = await gpuContext();
    const picked = await selectMatmulVariantsFor(ctx, [{ M: 9, N: 9, K: 4, batch: 8, transB: true }, { M: 9, N: 4, K: 9, batch: 8 }]);
    const cls = matmulShapeClass(9, 9, 4, 8);
    expect(Object.keys(picked)).toContain(cls);
    expect(ctx.choices.get(`matmul:${cls}`)).toBe(picked[cls]);
    expect(matmulVariants(ctx)).toContain(picked[cls]);
    const r = rng(4);
    const a = randn(r, 8 * 9 * 4);
    const C = matmul(ctx, ctx.tensor(a, [8, 9, 4]), ctx.tensor(a, [8, 9, 4]), { transB: true });
    expectClose(await ctx.read(C), matmulRef(a, a, { batchA: 8, batchB: 8, M: 9, N: 9, K: 4, transB: true }), "tuned class");
  });

  it("allocates nothing for a shape class already chosen", async () => {
    const ctx = await gpuContext();
    const head = { M: 1, N: 4096, K: 256, transB: true }; // 4 MB of operands to measure
    await selectMatmulVariantsFor(ctx, [head]);
    ctx.pool.resetPeak();
    const before = ctx.pool.getStats();
    await selectMatmulVariantsFor(ctx, [head]);
    const after = ctx.pool.getStats();
    expect(after.peakBytesInUse).toBe(before.bytesInUse);
    expect(after.bytesInUse).toBe(before.bytesInUse);
  });

  it("names the op and the shapes when inner dimensions differ", async () => {
    const ctx = await gpuContext();
    const a = ctx.empty([4, 5]);
    const b = ctx.empty([6, 3]);
    expect(() => matmul(ctx, a, b)).toThrow("matmul: inner dimensions differ: a is [4,5], b is [6,3]");
    expect(() => matmul(ctx, ctx.empty([2, 4, 5]), ctx.empty([3, 5, 2]))).toThrow("matmul: batch dimensions differ: a is [2,4,5], b is [3,5,2]");
  });
});
