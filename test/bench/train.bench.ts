// Training throughput: the same GPT (shapes, initial weights, batches, AdamW, clipping, schedule)
// trained by Hearth (gpu/train) and by @tensorflow/tfjs + tfjs-backend-webgpu in one headless
// Chromium page on the same adapter. Prints tokens/s, the ratio, submits and dispatches per step
// and peak GPU memory. Each preset runs in a fresh browser so its memory figures start clean.
//
//   BENCH_ONLY=train npm run bench
//   BENCH_TRAIN_PRESETS=issue,small  BENCH_TRAIN_WARM=2  BENCH_TRAIN_STEPS=3  BENCH_TRAIN_SKIP_TFJS=1
//   BENCH_TRAIN_DAWN_FEATURES=disable_robustness  (Chromium's default, robust buffer access, is what users
//   get and what runs without it; the toggle applies to both libraries in the page)

import path from "node:path";
import type { GPTConfig } from "../../gpu/nn/config";
import { GPT_PRESETS } from "../../gpu/nn/config";
import { openBundleInChromium } from "../gpu/browser/harness";
import type { TrainFigures, TrainSpec } from "./browser/train-peers.entry";

interface Preset {
  name: string;
  config: GPTConfig;
  batchSize: number;
}

/** The reference shape (tfjs-webgpu about 80 tokens/s here) and the `small` preset (about 23). */
const PRESETS: Preset[] = [
  { name: "issue", config: { vocabSize: 256, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64 }, batchSize: 8 },
  { name: "small", config: { ...GPT_PRESETS.small }, batchSize: 8 },
];

const mib = (b: number | undefined) => (b === undefined ? "-" : `${(b / 2 ** 20).toFixed(1)} MiB`);
const f1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "-");

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)) + 2);
  return [head, ...rows].map((r) => r.map((c, i) => c.padEnd(widths[i])).join("")).join("\n");
}

export async function runTrainBench(): Promise<void> {
  const wanted = (process.env.BENCH_TRAIN_PRESETS ?? "issue,small").split(",");
  const warmSteps = Number(process.env.BENCH_TRAIN_WARM ?? 2);
  const timedSteps = Number(process.env.BENCH_TRAIN_STEPS ?? 3);
  const skipTfjs = process.env.BENCH_TRAIN_SKIP_TFJS === "1";
  const dawnFeatures = process.env.BENCH_TRAIN_DAWN_FEATURES ?? "";
  console.log(
    `Training tokens/s in headless Chromium (SwiftShader WebGPU), Hearth vs tfjs-webgpu on the same adapter: ` +
      `${warmSteps} warm-up steps (shader compilation) excluded, then ${timedSteps} timed steps each; same init, batches and AdamW; ` +
      `Dawn features: ${dawnFeatures || "Chromium's defaults"}.`,
  );
  const summary: string[][] = [];
  for (const preset of PRESETS.filter((p) => wanted.includes(p.name))) {
    const run = await openBundleInChromium({
      entry: path.join(import.meta.dirname, "browser/train-peers.entry.ts"),
      extraArgs: dawnFeatures ? [`--enable-dawn-features=${dawnFeatures}`] : [],
    });
    type Fn = (...args: unknown[]) => Promise<unknown>;
    const call = <T>(fn: string, ...args: unknown[]) =>
      run.page.evaluate(([f, a]) => ((globalThis as unknown as Record<string, Fn>)[f as string])(...(a as unknown[])), [fn, args] as const) as Promise<T>;
    try {
      const c = preset.config;
      const spec: TrainSpec = { config: c, batchSize: preset.batchSize, warmSteps, timedSteps, lr: 3e-3, seed: 1 };
      const adapter = await call<string>("__adapterInfo");
      console.log(
        `\n## ${preset.name}: ${c.nLayer} layers, width ${c.nEmbd}, ${c.nHead} heads, context ${c.blockSize}, vocabulary ${c.vocabSize}, ` +
          `batch ${preset.batchSize} (${preset.batchSize * c.blockSize} tokens/step) on ${adapter}`,
      );
      // Hearth runs before and after tfjs (same steps from the same init each time) and the ratio
      // uses their mean: the machine's load drifts, and Hearth's timed window is much shorter.
      const results: Array<[string, TrainFigures]> = [];
      results.push([skipTfjs ? "Hearth" : "Hearth (before tfjs)", await call<TrainFigures>("__trainHearth", spec)]);
      if (!skipTfjs) {
        results.push(["tfjs-webgpu", await call<TrainFigures>("__trainTfjs", spec)]);
        results.push(["Hearth (after tfjs)", await call<TrainFigures>("__trainHearth", spec)]);
      }
      console.log(
        table(
          ["library", "tokens/s", "ms/step", "warm-up s", "submits/step", "dispatches/step", "peak GPU memory", "peak tensors", "loss step 1 -> last"],
          results.map(([lib, r]) => [
            lib,
            f1(r.tokensPerSec),
            r.msPerStep.toFixed(0),
            (r.warmMs / 1000).toFixed(1),
            f1(r.submitsPerStep),
            f1(r.dispatchesPerStep),
            mib(r.peakDeviceBytes),
            mib(r.peakTensorBytes),
            `${r.firstLoss.toFixed(4)} -> ${r.lastLoss.toFixed(4)}`,
          ]),
        ),
      );
      for (const [lib, r] of results) console.log(`${lib}: ${r.notes}`);
      const h = results[0][1];
      const t = results[1]?.[1];
      if (t) {
        const hearth = (h.tokensPerSec + results[2][1].tokensPerSec) / 2;
        const ratio = hearth / t.tokensPerSec;
        console.log(`ratio Hearth (mean of its two runs) / tfjs-webgpu: ${ratio.toFixed(1)}x (goal: at least 5x)`);
        summary.push([preset.name, f1(hearth), f1(t.tokensPerSec), `${ratio.toFixed(1)}x`, mib(h.peakDeviceBytes), mib(t.peakDeviceBytes)]);
      } else summary.push([preset.name, f1(h.tokensPerSec), "-", "-", mib(h.peakDeviceBytes), "-"]);
    } finally {
      await run.close();
    }
  }
  console.log(`\n## summary\n${table(["preset", "Hearth tokens/s (mean)", "tfjs tokens/s", "ratio", "Hearth peak GPU", "tfjs peak GPU"], summary)}`);
}
