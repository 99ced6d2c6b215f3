// Bundled into the page by test/gpu/browser.test.ts: a representative subset of kernel-vs-reference
// checks, run through the browser path (navigator.gpu, openBrowserGpu). One readback per check.

import { openBrowserGpu, matmul, MATMUL_VARIANTS, softmax, attention, attentionBackward, layerNorm, layerNormBackward, crossEntropyWithGrad, adamw, type GpuContext } from "../../../gpu/index";
import { rmsNorm, swiglu, rope, ropeAngles, ropeInvFreq, ropeTable, groupedQueryAttention } from "../../../gpu/index";
import { rmsNormRef } from "../../../gpu/reference/rmsnorm";
import { swigluRef } from "../../../gpu/reference/swiglu";
import { ropeRef } from "../../../gpu/reference/rope";
import { gqaRef } from "../../../gpu/reference/gqa";
import { matmulRef } from "../../../gpu/reference/matmul";
import { softmaxRef } from "../../../gpu/reference/softmax";
import { attentionRef } from "../../../gpu/reference/attention";
import { layerNormBackwardRef } from "../../../gpu/reference/layernorm";
import { crossEntropyRef, crossEntropyBackwardRef } from "../../../gpu/reference/cross-entropy";
import { adamwRef } from "../../../gpu/reference/optim";

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1;
const randn = (n: number, s = 1) => Float32Array.from({ length: n }, () => rand() * s);

function compare(name: string, got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-4, rtol = 1e-3): CheckResult {
  if (got.length !== want.length) return { name, ok: false, detail: `length ${got.length} vs ${want.length}` };
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      return { name, ok: false, detail: `element ${i}: ${got[i]} vs ${want[i]}` };
    }
  }
  return { name, ok: true, detail: `${want.length} values` };
}

async function run(): Promise<{ adapter: unknown; variant: string | undefined; results: CheckResult[] }> {
  const ctx: GpuContext = await openBrowserGpu();
  const results: CheckResult[] = [];
  for (const variant of MATMUL_VARIANTS) {
    for (const [M, N, K, transA, transB] of [[33, 65, 7, false, false], [17, 9, 40, true, true], [64, 66, 65, false, true]] as const) {
      const a = randn(M * K);
      const b = randn(K * N);
      const C = matmul(ctx, ctx.tensor(a, transA ? [K, M] : [M, K]), ctx.tensor(b, transB ? [N, K] : [K, N]), { transA, transB, variant });
      results.push(compare(`matmul ${variant} ${M}x${N}x${K}${transA ? " tA" : ""}${transB ? " tB" : ""}`, await ctx.read(C), matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K, transA, transB })));
    }
  }
  {
    const x = randn(3 * 65, 3);
    results.push(compare("softmax 3x65", await ctx.read(softmax(ctx, ctx.tensor(x, [3, 65]))), softmaxRef(x, 65)));
  }
  {
    const [B, T, C, H] = [2, 9, 16, 4];
    const qkv = randn(B * T * 3 * C);
    const { out, saved } = attention(ctx, ctx.tensor(qkv, [B, T, 3 * C]), H);
    const dq = attentionBackward(ctx, saved, ctx.tensor(new Float32Array(B * T * C).fill(0), [B, T, C]));
    const [y, g] = await ctx.readMany([out, dq]);
    results.push(compare("attention forward 2x9x16 h4", y, attentionRef(qkv, B, T, C, H)));
    results.push(compare("attention backward of zero upstream is zero", g, new Float64Array(B * T * 3 * C)));
  }
  {
    const [rows, C] = [5, 33];
    const x = randn(rows * C, 2);
    const gamma = randn(C);
    const dy = randn(rows * C);
    const X = ctx.tensor(x, [rows, C]);
    const G = ctx.tensor(gamma, [C]);
    const fwd = layerNorm(ctx, X, G, ctx.tensor(randn(C), [C]));
    const bwd = layerNormBackward(ctx, X, G, fwd, ctx.tensor(dy, [rows, C]));
    const [dx, dg, db] = await ctx.readMany([bwd.dx, bwd.dgamma, bwd.dbeta]);
    const ref = layerNormBackwardRef(x, gamma, dy);
    results.push(compare("layerNorm backward dx", dx, ref.dx, 1e-3));
    results.push(compare("layerNorm backward dgamma", dg, ref.dgamma, 1e-3));
    results.push(compare("layerNorm backward dbeta", db, ref.dbeta, 1e-3));
  }
  {
    const [N, V] = [7, 65];
    const logits = randn(N * V, 4);
    const targets = Int32Array.from({ length: N }, (_, i) => (i * 13) % V);
    const { losses, dlogits } = crossEntropyWithGrad(ctx, ctx.tensor(logits, [N, V]), ctx.tensor(targets, [N], "i32"), 1 / N);
    const [l, d] = await ctx.readMany([losses, dlogits]);
    results.push(compare("crossEntropy losses", l, crossEntropyRef(logits, targets, V)));
    results.push(compare("crossEntropy dlogits", d, crossEntropyBackwardRef(logits, targets, V, new Float64Array(N).fill(1 / N))));
  }
  {
    const n = 333;
    const p = randn(n);
    const g = randn(n);
    const cfg = { lr: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
    const P = ctx.tensor(p, [n]);
    adamw(ctx, { param: P, grad: ctx.tensor(g, [n]), m: ctx.zeros([n]), v: ctx.zeros([n]) }, 1, cfg);
    results.push(compare("adamw step", await ctx.read(P), adamwRef(p, g, new Float64Array(n), new Float64Array(n), 1, cfg).param, 1e-5));
  }
  {
    // the Llama-family kernels: RMSNorm, SwiGLU, RoPE and grouped-query attention over a KV cache
    const [rows, C] = [5, 33];
    const x = randn(rows * C, 2);
    const w = randn(C);
    results.push(compare("rmsNorm 5x33", await ctx.read(rmsNorm(ctx, ctx.tensor(x, [rows, C]), ctx.tensor(w, [C]), 1e-6).y), rmsNormRef(x, w, 1e-6).y));
    const up = randn(rows * C);
    results.push(compare("swiglu 5x33", await ctx.read(swiglu(ctx, ctx.tensor(x, [rows, C]), ctx.tensor(up, [rows, C]))), swigluRef(x, up)));
    const [B, T, H, D] = [2, 5, 3, 16];
    const inv = ropeInvFreq(D, { theta: 10000, type: "default" });
    const { cos, sin } = ropeAngles(inv, 12);
    const xr = randn(B * T * H * D);
    const yr = rope(ctx, ctx.tensor(xr, [B, T, H * D]), ropeTable(ctx, inv, 12), { nHead: H, headDim: D, positionOffset: 4 });
    results.push(compare("rope 2x5x3x16 at +4", await ctx.read(yr), ropeRef(xr, cos, sin, { B, T, nHead: H, headDim: D, positionOffset: 4 })));
    const g = { B: 2, Tq: 3, Tk: 9, nHead: 4, nKvHead: 2, headDim: 8, window: 4 };
    const q = randn(g.B * g.Tq * g.nHead * g.headDim);
    const k = randn(g.B * g.Tk * g.nKvHead * g.headDim);
    const v = randn(g.B * g.Tk * g.nKvHead * g.headDim);
    const { out } = groupedQueryAttention(ctx, ctx.tensor(q, [g.B, g.Tq, 32]), ctx.tensor(k, [g.B, g.Tk, 16]), ctx.tensor(v, [g.B, g.Tk, 16]), g);
    results.push(compare("groupedQueryAttention Tq3 Tk9 H4/2 W4", await ctx.read(out), gqaRef(q, k, v, g)));
  }
  const variant = ctx.choices.get("matmul");
  const adapter = ctx.report.adapter;
  ctx.destroy();
  return { adapter, variant, results };
}

function runInWorker(): Promise<CheckResult> {
  return new Promise((resolve) => {
    const w = new Worker("/worker.js", { type: "module" });
    w.onmessage = (e: MessageEvent<{ ok: boolean; detail: string }>) => {
      resolve({ name: "Web Worker: matmul + softmax", ...e.data });
      w.terminate();
    };
    w.onerror = (e) => resolve({ name: "Web Worker: matmul + softmax", ok: false, detail: e.message });
  });
}

Object.assign(globalThis, { __hearthRunChecks: run, __hearthRunWorker: runInWorker, __hearthReady: true });
