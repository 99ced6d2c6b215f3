// 16-bit weights (f16, bf16) packed two per u32 with an exact unpack: products y = x W^T and
// dx = dy W, and embedding gathers, against float64 CPU references on the exactly decoded values.
import { beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { bf16ToF32, f16ToF32, f32ToF16 } from "../../gpu/io/safetensors";
import { LINEAR16_VARIANTS, linear16, linear16BackwardInput, readWeight16Bytes, tokenEmbedding, tokenEmbeddingBackward, unpackWeight16, uploadWeight16, type HalfKind } from "../../gpu/ops/weight16";
import { expectClose, gpuContext, randn, rng } from "./helpers";

let ctx: GpuContext;
beforeAll(async () => {
  ctx = await gpuContext();
});

function randomBits(r: () => number, n: number, half: HalfKind): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    // mostly ordinary values, some tiny (f16 subnormals) and some large
    const kind = r();
    f[0] = (r() * 2 - 1) * (kind < 0.1 ? 1e-6 : kind < 0.15 ? 300 : 1.5);
    out[i] = half === "f16" ? f32ToF16(f[0]) : u[0] >>> 16;
  }
  return out;
}

const decode = (bits: Uint16Array, half: HalfKind) => Float64Array.from(bits, (b) => (half === "f16" ? f16ToF32(b) : bf16ToF32(b)));

describe("f32ToF16", () => {
  it("rounds to nearest even and round-trips every half", () => {
    for (let h = 0; h < 0x10000; h++) {
      const e = (h >> 10) & 0x1f;
      if (e === 31 && h & 0x3ff) continue; // NaN payloads
      expect(f32ToF16(f16ToF32(h))).toBe(h);
    }
    expect(f32ToF16(1 + 2 ** -11)).toBe(0x3c00); // tie to even
    expect(f32ToF16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(f32ToF16(70000)).toBe(0x7c00);
  });
});

describe.each(["f16", "bf16"] as const)("16-bit weights (%s)", (half) => {
  it("upload and read back bit for bit (odd element count)", async () => {
    const bits = randomBits(rng(1), 37, half);
    const w = uploadWeight16(ctx, bits, [37], half);
    const back = await readWeight16Bytes(ctx, w);
    expect(Array.from(new Uint16Array(back.buffer, back.byteOffset, 37))).toEqual(Array.from(bits));
    w.release();
  });

  it("unpacks to f32 exactly (odd element count)", async () => {
    const bits = randomBits(rng(2), 45, half);
    const w = uploadWeight16(ctx, bits, [9, 5], half);
    const f = unpackWeight16(ctx, w);
    expect(Array.from(await ctx.read(f))).toEqual(Array.from(decode(bits, half)));
    f.release();
    w.release();
  });

  it.each(
    LINEAR16_VARIANTS.flatMap((v) => [
      [v, 5, 7, 3],
      [v, 6, 8, 13],
      [v, 9, 12, 16],
      [v, 1, 33, 20],
    ] as const),
  )("%s: y = x W^T + b + r and dx = dy W, M=%i K=%i N=%i", async (variant, M, K, N) => {
    const r = rng(M * 100 + K * 10 + N);
    const bits = randomBits(r, N * K, half);
    const W = decode(bits, half);
    const x = randn(r, M * K);
    const b = randn(r, N);
    const res = randn(r, M * N);
    const dy = randn(r, M * N);
    const w = uploadWeight16(ctx, bits, [N, K], half);
    const tx = ctx.tensor(x, [M, K]);
    const tb = ctx.tensor(b, [N]);
    const tr = ctx.tensor(res, [M, N]);
    const tdy = ctx.tensor(dy, [M, N]);
    const y = linear16(ctx, tx, w, { bias: tb, residual: tr, variant });
    const dx = linear16BackwardInput(ctx, tdy, w, { variant });
    const acc = ctx.tensor(new Float32Array(M * K).fill(1), [M, K]);
    linear16BackwardInput(ctx, tdy, w, { out: acc, accumulate: true, alpha: 0.5, variant });
    const [gy, gdx, gacc] = await ctx.readMany([y, dx, acc]);
    const ey = new Float64Array(M * N);
    const edx = new Float64Array(M * K);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += x[m * K + k] * W[n * K + k];
        ey[m * N + n] = s + b[n] + res[m * N + n];
      }
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let n = 0; n < N; n++) s += dy[m * N + n] * W[n * K + k];
        edx[m * K + k] = s;
      }
    }
    expectClose(gy, ey, "y", 1e-3, 1e-5);
    expectClose(gdx, edx, "dx", 1e-3, 1e-5);
    expectClose(gacc, Float64Array.from(edx, (v) => 1 + 0.5 * v), "dx accumulated", 1e-3, 1e-5);
    for (const t of [tx, tb, tr, tdy, y, dx, acc]) t.release();
    w.release();
  });

  it("gathers embedding rows exactly; the f32 table's backward sums repeated tokens", async () => {
    const V = 11;
    const C = 5;
    const r = rng(5);
    const bits = randomBits(r, V * C, half);
    const E = decode(bits, half);
    const toks = Int32Array.from([3, 0, 10, 3, 7, 3]);
    const tt = ctx.tensor(toks, [2, 3], "i32");
    const w = uploadWeight16(ctx, bits, [V, C], half);
    const out = tokenEmbedding(ctx, tt, w);
    const tf = ctx.tensor(Float32Array.from(E), [V, C]);
    const out32 = tokenEmbedding(ctx, tt, tf);
    const dout = randn(r, toks.length * C);
    const tdout = ctx.tensor(dout, [2, 3, C]);
    const dE = ctx.zeros([V, C]);
    tokenEmbeddingBackward(ctx, tt, tdout, dE);
    const [g, g32, gdE] = await ctx.readMany([out, out32, dE]);
    const want = new Float64Array(toks.length * C);
    const wantdE = new Float64Array(V * C);
    toks.forEach((t, i) => {
      for (let c = 0; c < C; c++) {
        want[i * C + c] = E[t * C + c];
        wantdE[t * C + c] += dout[i * C + c];
      }
    });
    expect(Array.from(g)).toEqual(Array.from(want));
    expect(Array.from(g32)).toEqual(Array.from(want));
    expectClose(gdE, wantdE, "dE", 1e-6, 1e-6);
    for (const t of [tt, out, tf, out32, tdout, dE]) t.release();
    w.release();
  });
});
