// Matmul and attention benchmarks: Hearth on Dawn in Node, then Hearth, tfjs-backend-webgpu and
// onnxruntime-web (WebGPU) in one headless Chromium on the same adapter. Prints ratios.

import path from "node:path";
import { openNodeGpu } from "../../gpu/device-node";
import { attention, attentionBackward, attentionMatmulShapes, releaseAttention, matmul, MATMUL_VARIANTS, selectMatmulVariantsFor, tuneEngine, type MatmulVariant } from "../../gpu/index";
import { openBundleInChromium } from "../gpu/browser/harness";
import { ATTENTION_SHAPES, MATMUL_SHAPES, attentionFlops, flops, timeIt, type MatmulShape } from "./shapes";

const BUDGET_MS = Number(process.env.BENCH_BUDGET_MS ?? 1500);
const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(2));
const pad = (s: string, n: number) => s.padEnd(n);
const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) / 23 - 0.5);

/**
 * Variants more than 4x slower than the best variant on the first (smallest) shape are not run on
 * the larger ones: on a CPU adapter they would take minutes (each variant still runs once).
 */
function tooSlow(firstRates: Record<string, number>, name: string, isFirst: boolean): boolean {
  if (isFirst) return false;
  const best = Math.max(...Object.values(firstRates));
  return (firstRates[name] ?? 0) < best / 4;
}

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  return [head, ...rows].map((r) => r.map((c, i) => pad(c, widths[i])).join("")).join("\n");
}

async function nodeMatmul(): Promise<void> {
  const ctx = await openNodeGpu({ autotune: false });
  await tuneEngine(ctx);
  console.log(`\n## Hearth matmul on Dawn/Node (${ctx.report.adapter.vendor} ${ctx.report.adapter.architecture}); measured choices: ${JSON.stringify(Object.fromEntries(ctx.choices))}`);
  const rows: string[][] = [];
  const first: Record<string, number> = {};
  for (const s of MATMUL_SHAPES) {
    const a = ctx.tensor(fill(s.M * s.K), s.transA ? [s.K, s.M] : [s.M, s.K]);
    const b = ctx.tensor(fill(s.K * s.N), s.transB ? [s.N, s.K] : [s.K, s.N]);
    const c = ctx.empty([s.M, s.N]);
    const row = [s.name];
    for (const v of [undefined, ...MATMUL_VARIANTS] as Array<MatmulVariant | undefined>) {
      if (v && tooSlow(first, v, s === MATMUL_SHAPES[0])) {
        row.push("-");
        continue;
      }
      const ms = await timeIt(() => void matmul(ctx, a, b, { transA: s.transA, transB: s.transB, out: c, variant: v }), () => ctx.sync(), BUDGET_MS);
      row.push(fmt(flops(s) / ms / 1e6));
      if (v && s === MATMUL_SHAPES[0]) first[v] = flops(s) / ms / 1e6;
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
    // What a model does at creation: measure the variants on its own attention shapes.
    await selectMatmulVariantsFor(ctx, attentionMatmulShapes(s.B, s.T, s.C, s.H));
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
  type Fn = (...args: unknown[]) => Promise<unknown>;
  const call = <T>(fn: string, ...args: unknown[]) =>
    run.page.evaluate(([f, a]) => ((globalThis as unknown as Record<string, Fn>)[f as string])(...(a as unknown[])), [fn, args] as const) as Promise<T>;
  try {
    const info = await call<{ choices: Record<string, string> }>("__hearthInfo");
    const libs = ["hearth", "tfjs", "ort", ...MATMUL_VARIANTS.map((v) => `hearth:${v}`)];
    const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
    const best: Record<string, Record<string, number>> = {};
    const firstRates: Record<string, number> = {};
    for (const s of MATMUL_SHAPES) {
      const ids: Record<string, number> = {};
      for (const lib of libs) {
        if (lib.startsWith("hearth:") && tooSlow(firstRates, lib, s === MATMUL_SHAPES[0])) continue;
        ids[lib] = await call<number>("__prepare", lib, s).catch((e) => (console.log(`${lib} failed on ${s.name}: ${e}`), -1));
      }
      // Interleaved rounds, best of each: the machine is shared, so load shifts between measurements.
      for (let r = 0; r < rounds; r++) {
        for (const [lib, id] of Object.entries(ids)) {
          if (id < 0) continue;
          const ms = await call<number>("__time", id, BUDGET_MS);
          (best[lib] ??= {})[s.name] = Math.max(best[lib]?.[s.name] ?? 0, flops(s) / ms / 1e6);
        }
      }
      for (const id of Object.values(ids)) if (id >= 0) await call("__dispose", id);
      if (s === MATMUL_SHAPES[0]) for (const lib of libs) if (lib.startsWith("hearth:")) firstRates[lib] = best[lib]?.[s.name] ?? 0;
    }
    console.log(`\n## Same adapter, headless Chromium (Hearth's measured choices there: ${JSON.stringify(info.choices)}); best of ${rounds} interleaved rounds`);
    const rows = MATMUL_SHAPES.map((s) => {
      const h = best.hearth?.[s.name];
      const t = best.tfjs?.[s.name];
      const o = best.ort?.[s.name];
      const peer = Math.max(t ?? 0, o ?? 0);
      return [s.name, fmt(h), fmt(t), fmt(o), h && peer > 0 ? `${(h / peer).toFixed(1)}x` : "-"];
    });
    console.log(table(["shape", "Hearth GFLOP/s", "tfjs GFLOP/s", "ort GFLOP/s", "Hearth / best peer"], rows));
    console.log(
      "\nHearth variants in Chromium (GFLOP/s):\n" +
        table(["shape", ...MATMUL_VARIANTS], MATMUL_SHAPES.map((s) => [s.name, ...MATMUL_VARIANTS.map((v) => fmt(best[`hearth:${v}`]?.[s.name]))])),
    );
  } finally {
    await run.close();
  }
}

export async function runGpuMatmulBench(): Promise<void> {
  if (process.env.BENCH_SKIP_NODE !== "1") await nodeMatmul();
  if (process.env.BENCH_SKIP_BROWSER !== "1") await browserPeers();
}
