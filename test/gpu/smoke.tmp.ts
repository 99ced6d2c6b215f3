import { openNodeGpu } from "../../gpu/device-node";
import { matmul } from "../../gpu/index";
const ctx = await openNodeGpu({ autotune: false });
const vs = (process.argv[2] ?? "texture,texture_sg4").split(",") as any[];
const n = Number(process.argv[3] ?? 512);
const X = ctx.tensor(new Float32Array(n*n).fill(0.5), [n, n]);
const out = ctx.empty([n, n]);
for (const v of vs) { matmul(ctx, X, X, { variant: v, out }); await ctx.sync(); }
const best: Record<string, number> = {};
for (let round = 0; round < 4; round++) for (const v of vs) {
  const t = performance.now();
  matmul(ctx, X, X, { variant: v, out }); await ctx.sync();
  const g = 2 * n ** 3 / (performance.now() - t) / 1e6;
  best[v] = Math.max(best[v] ?? 0, g);
}
console.log(n, JSON.stringify(Object.fromEntries(Object.entries(best).map(([k, v]) => [k, v.toFixed(2)]))));
