import { readFileSync } from "node:fs";
import { requestNodeGpuContext } from "../../gpu/device-node";
import { wgsl } from "../../gpu/kernels/generated";
import { matmulRef } from "../../gpu/reference/matmul";
const ctx = await requestNodeGpuContext();
const n = Number(process.argv[2] ?? 512);
const tiles = (process.argv[3] ?? "16x8,16x16,32x8,8x8,8x16").split(",");
for (const t of tiles) (wgsl as any)[`exp_${t}`] = readFileSync(`/tmp/exp/mm_${t}.wgsl`, "utf8");
const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 17) / 17 - 0.5);
const X = ctx.tensor(data, [n, n]);
const out = ctx.empty([n, n]);
const K4 = Math.ceil(n / 16) * 4;
const mk = (w: number, h: number) => ctx.device.createTexture({ size: [w, h], format: "rgba32float", usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING });
const ref = matmulRef(data, data, { batchA: 1, batchB: 1, M: n, N: n, K: n });
const best: Record<string, number> = {};
const runs: Record<string, () => void> = {};
for (const t of tiles) {
  const [TM, TN] = t.split("x").map(Number);
  const aRowsPad = Math.ceil(n / TM) * TM;
  const bWidth = Math.ceil(Math.ceil(n / 4) / (TN / 4)) * (TN / 4);
  const texA = mk(K4, aRowsPad), texB = mk(bWidth, 4 * K4);
  const pack = (tex: GPUTexture, rows: number, rowsPad: number) => ctx.dispatch({ kernel: "matmul_pack", constants: { WX: 8, WY: 8 }, params: { u: [rows, n, rowsPad, 1, tex.width, tex.height, 0, n, 1] }, bindings: [X, tex.createView()], groups: [Math.ceil(tex.width / 8), Math.ceil(tex.height / 8)] });
  runs[t] = () => {
    pack(texA, n, aRowsPad); pack(texB, n, 4 * K4);
    ctx.dispatch({ kernel: `exp_${t}` as any, constants: { WX: 8, WY: 8 }, params: { u: [n, n, K4, 0, 0, 0, aRowsPad - TM, bWidth, 0], f: [1] }, bindings: [texA.createView(), texB.createView(), out], groups: [Math.ceil(bWidth / (TN / 4) / 8), Math.ceil(aRowsPad / TM / 8), 1] });
  };
  runs[t]();
  const c = await ctx.read(out);
  let err = 0; for (let i = 0; i < c.length; i++) err = Math.max(err, Math.abs(c[i] - ref[i]));
  console.log(t, "maxerr", err.toExponential(2));
}
for (let round = 0; round < 3; round++) for (const t of tiles) {
  const t0 = performance.now(); runs[t](); await ctx.sync();
  best[t] = Math.max(best[t] ?? 0, 2 * n ** 3 / (performance.now() - t0) / 1e6);
}
console.log(n, JSON.stringify(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, v.toFixed(2)]))));
