// Decoder benchmarks (test/bench/decoder-figures.ts), in Node on Dawn and in headless Chromium on
// the same adapter kind: (1) GFLOP/s of the 16-bit-weight products against the f32 matmul on the
// same shapes, (2) one SmolLM2-135M-shaped block's forward and backward time split by kernel.
// Run: BENCH_ONLY=decoder npm run bench   (or npx tsx test/bench/decoder.bench.ts)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openNodeGpu } from "../../gpu/device-node";
import { openBundleInChromium } from "../gpu/browser/harness";
import { decoderFigures } from "./decoder-figures";

export async function runDecoderBench(): Promise<void> {
  console.log("# Node (Dawn)");
  const ctx = await openNodeGpu({ autotune: false });
  await decoderFigures(ctx);
  ctx.destroy();
  if (process.env.BENCH_DECODER_SKIP_BROWSER === "1") return;
  console.log("\n# headless Chromium (navigator.gpu)");
  const run = await openBundleInChromium({ entry: path.join(import.meta.dirname, "browser/decoder.entry.ts"), onConsole: (line) => console.log(line) });
  try {
    await run.page.evaluate(() => (globalThis as unknown as { __decoderBench: () => Promise<void> }).__decoderBench());
  } finally {
    await run.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runDecoderBench();
  process.exit(0);
}
