import { requestNodeGpuContext, sleepingWait } from "../../gpu/device-node";
import { matmul } from "../../gpu/index";
const feats = process.argv[2] === "none" ? [] : process.argv[2].split(",");
const ctx = await requestNodeGpuContext({ dawnFeatures: feats, waitHook: process.argv[3] === "spin" ? ((p: any) => p) : sleepingWait } as any);
const n = 512;
const X = ctx.tensor(new Float32Array(n*n).fill(0.5), [n, n]);
const out = ctx.empty([n, n]);
const vs = ["naive", "texture_sg4"] as const;
for (const v of vs) { matmul(ctx, X, X, { variant: v, out }); await ctx.sync(); }
const best: Record<string, number> = {};
for (let round = 0; round < 3; round++) for (const v of vs) {
  const t = performance.now();
  matmul(ctx, X, X, { variant: v, out }); await ctx.sync();
  best[v] = Math.max(best[v] ?? 0, 2 * n ** 3 / (performance.now() - t) / 1e6);
}
console.log(process.argv[2], process.argv[3] ?? "", JSON.stringify(best));
