// Bundled into headless Chromium by test/bench/decoder.bench.ts: the decoder figures on the page's
// own navigator.gpu, printed through the console (the bench forwards it).
import { openBrowserGpu } from "../../../gpu/index";
import { decoderFigures } from "../decoder-figures";

async function decoderBench(): Promise<void> {
  const ctx = await openBrowserGpu({ autotune: false });
  await decoderFigures(ctx);
  ctx.destroy();
}

Object.assign(globalThis, { __decoderBench: decoderBench, __hearthReady: true });
