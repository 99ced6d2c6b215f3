// Matmul and attention benchmarks: Hearth on Dawn in Node, then Hearth, tfjs-backend-webgpu and
// onnxruntime-web (WebGPU) in one headless Chromium on the same adapter. Prints ratios.

import path from "node:path";
import { openNodeGpu } from "../../gpu/device-node";
import { attention, attentionBackward, releaseAttention, matmul, MATMUL_VARIANTS, selectMatmulVariant, type MatmulVariant } from "../../gpu/index";
import { openBundleInChromium } from "../gpu/browser/harness";
import { ATTENTION_SHAPES, MATMUL_SHAPES, attentionFlops, flops, timeIt, type MatmulShape } from "./shapes";

const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 1500);
const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));
const pad = (s: string, n: number) => s.padEnd(n);
const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) / 23 - 0.5);

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  return [head, ...rows].map((r) => r.map((c, i) => pad(c, widths[i])).join("")).join("\n");
}

async function nodeMatmul(): Promise<void> {
  const ctx = await openNodeGpu({ autotune: false });
  const sel = await selectMatmulVariant(ctx);
  console.log(`\n## Hearth matmul on Dawn/Node (${ctx.report.adapter.vendor} ${ctx.report.adapter.architecture}); measured choice: ${sel.choice}`);
  const rows: string[][] = [];
  for (const s of MATMUL_SHAPES) {
    const a = ctx.tensor(fill(s.M * s.K), s.transA ? [s.K, s.M] : [s.M, s.K]);
    const b = ctx.tensor(fill(s.K * s.N), s.transB ? [s.N, s.K] : [s.K, s.N]);
    const c = ctx.empty([s.M, s.N]);
    const row = [s.name];
    for (const v of [undefined, ...MATMUL_VARIANTS] as Array<MatmulVariant | undefined>) {
      if (v === "naive" && s.M * s.N * s.K > 300 ** 3) {
        row.push("-");
        continue;
      }
      const ms = await timeIt(() => void matmul(ctx, a, b, { transA: s.transA, transB: s.transB, out: c, variant: v }), () => ctx.sync(), BUDGET_MS);
      row.push(fmt(flops(s) / ms / 1e6));
    }
    rows.push(row);
    a.release();
    b.release();
    c.release();
  }
  console.log(table(["shape", "chosen GFLOP/s", ...MATMUL_VARIANTS.map((v) => `${v}`)], rows));

  console.log("\n## Hearth causal self-attention on Dawn/Node (matmul FLOPs counted in full)");
  const arows: string[][] = [];
  for (const s of ATTENTION_SHAPES) {
    const qkv = ctx.tensor(fill(s.B * s.T * 3 * s.C), [s.B, s.T, 3 * s.C]);
    const dout = ctx.tensor(fill(s.B * s.T * s.C), [s.B, s.T, s.C]);
    let saved: ReturnType<typeof attention> | null = null;
    const fwd = await timeIt(
      () => {
        if (saved) {
          saved.out.release();
          releaseAttention(saved.saved);
        }
        saved = attention(ctx, qkv, s.H);
      },
      () => ctx.sync(),
      BUDGET_MS,
    );
    const bwd = await timeIt(() => attentionBackward(ctx, saved!.saved, dout).release(), () => ctx.sync(), BUDGET_MS);
    arows.push([s.name, fmt(attentionFlops(s, false) / fwd / 1e6), fmt(fwd), fmt(attentionFlops(s, true) / bwd / 1e6), fmt(bwd)]);
  }
  console.log(table(["shape", "forward GFLOP/s", "ms", "backward GFLOP/s", "ms"], arows));
  ctx.destroy();
}

async function browserPeers(): Promise<void> {
  const run = await openBundleInChromium({
    entry: path.join(import.meta.dirname, "browser/matmul-peers.entry.ts"),
    statics: { "/ort/": path.resolve(import.meta.dirname, "../../node_modules/onnxruntime-web/dist") },
    // The same Dawn toggle Hearth requests in Node; it applies to every library in the page.
    extraArgs: ["--enable-dawn-features=disable_robustness"],
  });
  try {
    const shapes = MATMUL_SHAPES;
    type Win = Record<string, (s: MatmulShape[], b: number) => Promise<unknown>>;
    const call = <T>(name: string) => run.page.evaluate(([n, s, b]) => (globalThis as unknown as Win)[n as string](s as MatmulShape[], b as number), [name, shapes, BUDGET_MS] as const) as Promise<T>;
    const hearth = await call<{ chosen: string; gflops: Record<string, number>; variants: Record<string, Record<string, number>> }>("__benchHearth");
    const tfjs = await call<Record<string, number>>("__benchTfjs").catch((e) => (console.log(`tfjs failed: ${e}`), {} as Record<string, number>));
    const ort = await call<Record<string, number>>("__benchOrt").catch((e) => (console.log(`onnxruntime-web failed: ${e}`), {} as Record<string, number>));
    console.log(`\n## Same adapter, headless Chromium (Hearth's measured choice there: ${hearth.chosen})`);
    const rows = shapes.map((s) => {
      const h = hearth.gflops[s.name];
      const best = Math.max(tfjs[s.name] ?? 0, ort[s.name] ?? 0);
      return [s.name, fmt(h), fmt(tfjs[s.name]), fmt(ort[s.name]), best > 0 ? `${(h / best).toFixed(1)}x` : "-"];
    });
    console.log(table(["shape", "Hearth GFLOP/s", "tfjs GFLOP/s", "ort GFLOP/s", "Hearth / best peer"], rows));
    console.log(
      "\nHearth variants in Chromium (GFLOP/s):\n" +
        table(["shape", ...MATMUL_VARIANTS], shapes.map((s) => [s.name, ...MATMUL_VARIANTS.map((v) => fmt(hearth.variants[v]?.[s.name]))])),
    );
  } finally {
    await run.close();
  }
}

export async function runGpuMatmulBench(): Promise<void> {
  if (process.env.BENCH_SKIP_NODE !== "1") await nodeMatmul();
  if (process.env.BENCH_SKIP_BROWSER !== "1") await browserPeers();
}
