import { openNodeGpu } from "../../gpu/device-node";
import { matmul, softmax, attention, releaseAttention, crossEntropyWithGrad, layerNorm } from "../../gpu/index";
const ctx = await openNodeGpu({ autotune: true });
console.log("chosen", ctx.choices.get("matmul"));
const [B, T, C, H] = [8, 64, 64, 4]; const hd = C / H;
const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) / 23 - 0.5);
async function time(name: string, f: () => void) {
  f(); await ctx.sync();
  const t = performance.now(); const R = 5;
  for (let i = 0; i < R; i++) f();
  await ctx.sync();
  console.log(name, ((performance.now() - t) / R).toFixed(2), "ms");
}
const q = ctx.tensor(fill(B*H*T*hd), [B, H, T, hd]);
const s = ctx.tensor(fill(B*H*T*T), [B, H, T, T]);
const qkv = ctx.tensor(fill(B*T*3*C), [B, T, 3*C]);
for (const v of ["naive", "blocked", "texture", "texture_sg4"] as const) {
  await time(`scores ${v}`, () => matmul(ctx, q, q, { transB: true, variant: v }).release());
  await time(`pv ${v}`, () => matmul(ctx, s, q, { variant: v }).release());
}
await time("softmax causal", () => softmax(ctx, s, { causal: true }).release());
await time("attention", () => { const r = attention(ctx, qkv, H); r.out.release(); releaseAttention(r.saved); });
const logits = ctx.tensor(fill(512 * 512), [512, 512]);
const tg = ctx.tensor(new Int32Array(512).fill(3), [512], "i32");
await time("CE 512x512", () => { const r = crossEntropyWithGrad(ctx, logits, tg, 1); r.losses.release(); r.dlogits.release(); });
const x = ctx.tensor(fill(512 * 128), [512, 128]); const g = ctx.tensor(fill(128), [128]);
await time("layernorm 512x128", () => { const r = layerNorm(ctx, x, g, g); r.y.release(); r.mean.release(); r.rstd.release(); });
