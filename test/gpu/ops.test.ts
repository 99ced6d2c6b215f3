import { beforeEach, describe, expect, it } from "vitest";
import { ROW_LAYOUTS } from "../../gpu/ops/util";
import { selectRowLayout } from "../../gpu/ops/row-layout";
import { add, accumulate, biasAdd, biasAddBackward, gelu, geluBackward } from "../../gpu/ops/elementwise";
import { layerNorm, layerNormBackward } from "../../gpu/ops/layernorm";
import { softmax, softmaxBackward } from "../../gpu/ops/softmax";
import { attention, attentionBackward, releaseAttention } from "../../gpu/ops/attention";
import { embedding, embeddingBackward } from "../../gpu/ops/embedding";
import { crossEntropy, crossEntropyBackward, crossEntropyWithGrad } from "../../gpu/ops/cross-entropy";
import { adamw } from "../../gpu/ops/adamw";
import { linear, linearBackward } from "../../gpu/ops/linear";
import { matmulRef } from "../../gpu/reference/matmul";
import { globalGradNorm, sumAll, sumLastAxis, sumLeading } from "../../gpu/ops/reduce";
import { addRef, biasAddRef, geluBackwardRef, geluRef, sumLastAxisRef, sumLeadingRef } from "../../gpu/reference/elementwise";
import { layerNormBackwardRef, layerNormRef } from "../../gpu/reference/layernorm";
import { softmaxBackwardRef, softmaxRef } from "../../gpu/reference/softmax";
import { attentionRef } from "../../gpu/reference/attention";
import { embeddingBackwardRef, embeddingRef } from "../../gpu/reference/embedding";
import { crossEntropyBackwardRef, crossEntropyRef } from "../../gpu/reference/cross-entropy";
import { adamwRef, globalNormRef } from "../../gpu/reference/optim";
import { expectClose, finiteDiff, gpuContext, randInt, randn, rng } from "./helpers";

const sizes = [1, 7, 33, 65, 300];

describe("elementwise ops", () => {
  it("add, accumulate, bias add and GELU match the reference over odd sizes", async () => {
    const ctx = await gpuContext();
    const r = rng(1);
    for (const n of sizes) {
      const C = n === 1 ? 1 : 7;
      const rows = Math.max(1, Math.floor(n / C));
      const a = randn(r, rows * C, 3);
      const b = randn(r, rows * C);
      const bias = randn(r, C);
      const A = ctx.tensor(a, [rows, C]);
      const B = ctx.tensor(b, [rows, C]);
      const dst = ctx.tensor(a, [rows, C]);
      accumulate(ctx, dst, B, 0.5);
      const outs = [add(ctx, A, B), biasAdd(ctx, A, ctx.tensor(bias, [C])), gelu(ctx, A), dst];
      const [sum, biased, g, acc] = await ctx.readMany(outs);
      expectClose(sum, addRef(a, b), `add ${n}`);
      expectClose(biased, biasAddRef(a, bias), `biasAdd ${n}`);
      expectClose(g, geluRef(a), `gelu ${n}`);
      expectClose(acc, a.map((v, i) => v + 0.5 * b[i]), `accumulate ${n}`);
    }
  });

  it("GELU and bias backward match finite differences", async () => {
    const ctx = await gpuContext();
    const r = rng(2);
    const x = randn(r, 5 * 13, 3);
    const dy = randn(r, 5 * 13);
    const bias = randn(r, 13);
    const X = ctx.tensor(x, [5, 13]);
    const dY = ctx.tensor(dy, [5, 13]);
    const [dx, db] = await ctx.readMany([geluBackward(ctx, X, dY), biasAddBackward(ctx, dY)]);
    expectClose(dx, finiteDiff((v) => geluRef(v), x, dy), "gelu dx", 1e-3, 1e-3);
    expectClose(dx, geluBackwardRef(x, dy), "gelu dx (analytic)", 1e-4, 1e-3);
    expectClose(db, finiteDiff((v) => biasAddRef(x, v), bias, dy), "bias db", 1e-3, 1e-3);
  });
});

describe("linear layer", () => {
  it("forward matches the reference; backward adds dW and db and returns dx", async () => {
    const ctx = await gpuContext();
    const r = rng(12);
    const [B, T, I, O] = [2, 3, 5, 7];
    const x = randn(r, B * T * I);
    const w = randn(r, I * O);
    const bias = randn(r, O);
    const dy = randn(r, B * T * O);
    const X = ctx.tensor(x, [B, T, I]);
    const W = ctx.tensor(w, [I, O]);
    const Y = linear(ctx, X, W, ctx.tensor(bias, [O]));
    const dw = ctx.zeros([I, O]);
    const db = ctx.zeros([O]);
    const dx = linearBackward(ctx, X, W, ctx.tensor(dy, [B, T, O]), { dw, db })!;
    const [y, gx, gw, gb] = await ctx.readMany([Y, dx, dw, db]);
    const ref = (xv: ArrayLike<number>, wv: ArrayLike<number>, bv: ArrayLike<number>) =>
      biasAddRef(matmulRef(xv, wv, { batchA: 1, batchB: 1, M: B * T, N: O, K: I }), bv);
    expectClose(y, ref(x, w, bias), "linear y");
    expectClose(gx, finiteDiff((v) => ref(v, w, bias), x, dy), "linear dx", 1e-3, 1e-3);
    expectClose(gw, finiteDiff((v) => ref(x, v, bias), w, dy), "linear dw", 1e-3, 1e-3);
    expectClose(gb, finiteDiff((v) => ref(x, w, v), bias, dy), "linear db", 1e-3, 1e-3);
  });
});

describe("row-kernel layout selection", () => {
  it("measures both layouts and records the faster one for this adapter", async () => {
    const ctx = await gpuContext();
    const { choice, timings } = await selectRowLayout(ctx, { force: true });
    expect(ROW_LAYOUTS).toContain(choice);
    expect(Object.keys(timings).sort()).toEqual([...ROW_LAYOUTS].sort());
    expect(ctx.choices.get("rows")).toBe(choice);
  });
});

describe.each(ROW_LAYOUTS)("row kernels laid out per %s", (layout) => {
  beforeEach(async () => {
    (await gpuContext()).choices.set("rows", layout);
  });

  describe("reductions", () => {
    it("sum over leading axes, last axis and everything", async () => {
      const ctx = await gpuContext();
      const r = rng(3);
      for (const [rows, cols] of [[1, 1], [7, 33], [65, 3], [300, 65]]) {
        const x = randn(r, rows * cols);
        const X = ctx.tensor(x, [rows, cols]);
        const [lead, last, all] = await ctx.readMany([sumLeading(ctx, X), sumLastAxis(ctx, X), sumAll(ctx, X, { scale: 0.5 })]);
        expectClose(lead, sumLeadingRef(x, cols), `sumLeading ${rows}x${cols}`);
        expectClose(last, sumLastAxisRef(x, cols), `sumLastAxis ${rows}x${cols}`);
        expectClose(all, [0.5 * x.reduce((s, v) => s + v, 0)], `sumAll ${rows}x${cols}`, 1e-3);
      }
    });

    it("global gradient norm and clip coefficient over several tensors", async () => {
      const ctx = await gpuContext();
      const r = rng(4);
      const gs = [randn(r, 1), randn(r, 33), randn(r, 5000)];
      const { norm, scale } = globalGradNorm(ctx, gs.map((g) => ctx.tensor(g, [g.length])), 1.0);
      const [n, s] = await ctx.readMany([norm, scale]);
      const ref = globalNormRef(gs, 1.0);
      expectClose(n, [ref.norm], "norm");
      expectClose(s, [ref.scale], "clip scale");
    });
  });

  describe("LayerNorm", () => {
    it("forward matches the reference and backward matches finite differences", async () => {
      const ctx = await gpuContext();
      const r = rng(5);
      for (const [rows, C] of [[1, 1], [3, 7], [5, 33], [2, 65], [4, 300]]) {
        const x = randn(r, rows * C, 2);
        const gamma = randn(r, C);
        const beta = randn(r, C);
        const dy = randn(r, rows * C);
        const X = ctx.tensor(x, [rows, C]);
        const G = ctx.tensor(gamma, [C]);
        const fwd = layerNorm(ctx, X, G, ctx.tensor(beta, [C]));
        const bwd = layerNormBackward(ctx, X, G, fwd, ctx.tensor(dy, [rows, C]));
        const [y, mean, rstd, dx, dg, dbeta] = await ctx.readMany([fwd.y, fwd.mean, fwd.rstd, bwd.dx, bwd.dgamma, bwd.dbeta]);
        const ref = layerNormRef(x, gamma, beta);
        expectClose(y, ref.y, `y ${rows}x${C}`, 1e-3);
        expectClose(mean, ref.mean, `mean ${rows}x${C}`);
        expectClose(rstd, ref.rstd, `rstd ${rows}x${C}`, 1e-3, 1e-3);
        if (C > 1) {
          // C = 1 normalises to exactly 0: the gradient through rstd is singular there.
          expectClose(dx, finiteDiff((v) => layerNormRef(v, gamma, beta).y, x, dy), `dx ${rows}x${C}`, 2e-3, 2e-3);
        }
        expectClose(dg, finiteDiff((v) => layerNormRef(x, v, beta).y, gamma, dy), `dgamma ${rows}x${C}`, 1e-3, 1e-3);
        expectClose(dbeta, finiteDiff((v) => layerNormRef(x, gamma, v).y, beta, dy), `dbeta ${rows}x${C}`, 1e-3, 1e-3);
        expectClose(dx, layerNormBackwardRef(x, gamma, dy).dx, `dx analytic ${rows}x${C}`, 1e-3, 1e-3);
        // the skip path's gradient summed in: d/dx of sum(dy LN(x)) + sum(dres x)
        const dres = randn(r, rows * C);
        const withRes = layerNormBackward(ctx, X, G, fwd, ctx.tensor(dy, [rows, C]), { residual: ctx.tensor(dres, [rows, C]) });
        const [dxr] = await ctx.readMany([withRes.dx]);
        if (C > 1) {
          const both = (v: Float64Array) => [...layerNormRef(v, gamma, beta).y, ...v];
          expectClose(dxr, finiteDiff(both, x, [...dy, ...dres]), `dx + residual ${rows}x${C}`, 2e-3, 2e-3);
        }
        expectClose(dxr, Array.from(dx, (v, i) => v + dres[i]), `dx + residual vs dx ${rows}x${C}`);
      }
    });
  });

  describe("softmax", () => {
    it("plain, scaled and causal forward; backward against finite differences", async () => {
      const ctx = await gpuContext();
      const r = rng(6);
      for (const [rows, cols, causal] of [[1, 1, false], [3, 7, false], [2 * 33, 33, true], [65, 65, true], [2, 300, false]] as const) {
        const x = randn(r, rows * cols, 3);
        const dy = randn(r, rows * cols);
        const shape = causal ? [rows / cols, cols, cols] : [rows, cols];
        const o = { scale: 0.7, causal };
        const Y = softmax(ctx, ctx.tensor(x, shape), o);
        const dX = softmaxBackward(ctx, Y, ctx.tensor(dy, shape), { scale: 0.7 });
        const [y, dx] = await ctx.readMany([Y, dX]);
        expectClose(y, softmaxRef(x, cols, o), `softmax ${rows}x${cols}${causal ? " causal" : ""}`);
        if (rows * cols <= 2000) {
          expectClose(dx, finiteDiff((v) => softmaxRef(v, cols, o), x, dy), `softmax dx ${rows}x${cols}`, 1e-3, 1e-3);
        }
        expectClose(dx, softmaxBackwardRef(softmaxRef(x, cols, o), dy, cols, 0.7), `softmax dx analytic ${rows}x${cols}`);
        if (causal) {
          // causal backward never reads dy above the diagonal (a triangular matmul leaves it undefined)
          const holes = dy.map((v, i) => (i % cols > Math.floor(i / cols) % cols ? NaN : v));
          const dXc = softmaxBackward(ctx, Y, ctx.tensor(holes, shape), { scale: 0.7, causal: true });
          expectClose(await ctx.read(dXc), dx, `causal softmax dx ${rows}x${cols} with undefined dy above the diagonal`);
        }
      }
    });
  });

  describe("causal multi-head self-attention", () => {
    // blocked and the texture variants skip the causal zeros (triangular products)
    for (const variant of ["naive", "blocked", "texture", "texture_sg4"] as const) {
      it(`forward and backward (matmul ${variant})`, async () => {
        const ctx = await gpuContext();
        const r = rng(7);
        for (const [B, T, C, H] of [[1, 1, 4, 1], [2, 7, 12, 3], [1, 9, 8, 2], [1, 37, 8, 2]]) {
          const qkv = randn(r, B * T * 3 * C);
          const dout = randn(r, B * T * C);
          const { out, saved } = attention(ctx, ctx.tensor(qkv, [B, T, 3 * C]), H, { variant });
          const dqkv = attentionBackward(ctx, saved, ctx.tensor(dout, [B, T, C]), { variant });
          const [y, g] = await ctx.readMany([out, dqkv]);
          expectClose(y, attentionRef(qkv, B, T, C, H), `attention B${B} T${T} C${C} H${H}`);
          expectClose(g, finiteDiff((v) => attentionRef(v, B, T, C, H), qkv, dout), `attention dqkv B${B} T${T} C${C} H${H}`, 1e-3, 2e-3);
          releaseAttention(saved);
        }
      });
    }

    it("names the op and shape when heads do not divide the width", async () => {
      const ctx = await gpuContext();
      expect(() => attention(ctx, ctx.empty([2, 4, 30]), 3)).toThrow("attention: 3 heads do not divide C = 10 (qkv [2,4,30])");
    });
  });

  describe("cross-entropy with logits", () => {
    it("losses, fused gradient and upstream backward; ignored targets", async () => {
      const ctx = await gpuContext();
      const r = rng(9);
      for (const [N, V] of [[1, 1], [7, 5], [33, 65], [3, 300]]) {
        const logits = randn(r, N * V, 4);
        const targets = Int32Array.from({ length: N }, (_, i) => (i === 1 ? -1 : randInt(r, 0, V - 1)));
        const dl = randn(r, N);
        const L = ctx.tensor(logits, [N, V]);
        const Tg = ctx.tensor(targets, [N], "i32");
        const losses = crossEntropy(ctx, L, Tg);
        const fused = crossEntropyWithGrad(ctx, L, Tg, 1 / N);
        const back = crossEntropyBackward(ctx, L, Tg, ctx.tensor(dl, [N]));
        const [l, fl, fd, bd] = await ctx.readMany([losses, fused.losses, fused.dlogits, back]);
        const ref = crossEntropyRef(logits, targets, V);
        expectClose(l, ref, `loss ${N}x${V}`, 1e-4);
        expectClose(fl, ref, `fused loss ${N}x${V}`, 1e-4);
        const mean = (v: Float64Array) => [crossEntropyRef(v, targets, V).reduce((s, x) => s + x, 0) / N];
        expectClose(fd, finiteDiff(mean, logits, [1]), `fused dlogits ${N}x${V}`, 1e-4, 1e-3);
        expectClose(bd, finiteDiff((v) => crossEntropyRef(v, targets, V), logits, dl), `dlogits ${N}x${V}`, 1e-3, 1e-3);
        expectClose(bd, crossEntropyBackwardRef(logits, targets, V, dl), `dlogits analytic ${N}x${V}`);
      }
    });

    it("a target id past the vocabulary gives a NaN loss instead of a silent read", async () => {
      const ctx = await gpuContext();
      const [l] = await ctx.readMany([crossEntropy(ctx, ctx.tensor([1, 2, 3], [1, 3]), ctx.tensor([3], [1], "i32"))]);
      expect(Number.isNaN(l[0])).toBe(true);
    });
  });
});

describe("token + position embedding", () => {
  it("forward gathers rows; backward sums repeated tokens into shared rows", async () => {
    const ctx = await gpuContext();
    const r = rng(8);
    const [B, T, V, C, maxT] = [3, 7, 5, 33, 9];
    // Few distinct tokens: many positions write the same row.
    const tokens = Int32Array.from({ length: B * T }, () => randInt(r, 0, V - 1));
    const wte = randn(r, V * C);
    const wpe = randn(r, maxT * C);
    const dout = randn(r, B * T * C);
    const toks = ctx.tensor(tokens, [B, T], "i32");
    const out = embedding(ctx, toks, ctx.tensor(wte, [V, C]), ctx.tensor(wpe, [maxT, C]));
    const prevWte = randn(r, V * C);
    const dwte = ctx.tensor(prevWte, [V, C]);
    const dwpe = ctx.zeros([maxT, C]);
    embeddingBackward(ctx, toks, ctx.tensor(dout, [B, T, C]), { dwte, dwpe });
    const [y, gte, gpe] = await ctx.readMany([out, dwte, dwpe]);
    expectClose(y, embeddingRef(tokens, wte, wpe, T, C), "embedding");
    const fdWte = finiteDiff((v) => embeddingRef(tokens, v, wpe, T, C), wte, dout);
    expectClose(gte, fdWte.map((v, i) => v + prevWte[i]), "dwte (accumulated)", 1e-3, 1e-3);
    expectClose(gpe, finiteDiff((v) => embeddingRef(tokens, wte, v, T, C), wpe, dout), "dwpe", 1e-3, 1e-3);
    expectClose(gte, embeddingBackwardRef(tokens, dout, V, maxT, T, C).dwte.map((v, i) => v + prevWte[i]), "dwte analytic");
  });
});

describe("AdamW", () => {
  it("matches the reference over several steps, with weight decay and a clip scale", async () => {
    const ctx = await gpuContext();
    const r = rng(10);
    const n = 1000 + 7;
    const cfg = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    let p = Float64Array.from(randn(r, n));
    let m = new Float64Array(n);
    let v = new Float64Array(n);
    const P = ctx.tensor(p, [n]);
    const M = ctx.zeros([n]);
    const Vt = ctx.zeros([n]);
    const G = ctx.empty([n]);
    const scale = ctx.tensor([0.5], [1]);
    for (let step = 1; step <= 3; step++) {
      const g = randn(r, n);
      ctx.write(G, g);
      adamw(ctx, { param: P, grad: G, m: M, v: Vt }, step, cfg, scale);
      ({ param: p, m, v } = adamwRef(p, g, m, v, step, cfg, 0.5));
    }
    const [gp, gm, gv] = await ctx.readMany([P, M, Vt]);
    expectClose(gp, p, "param", 1e-5, 1e-4);
    expectClose(gm, m, "m", 1e-6, 1e-4);
    expectClose(gv, v, "v", 1e-7, 1e-4);
  });
});
