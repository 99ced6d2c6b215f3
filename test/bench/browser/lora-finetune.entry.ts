// Bundled into headless Chromium by test/bench/lora-finetune.bench.ts: LoRA fine-tuning of a
// SmolLM2-135M-shaped llama on the page's own navigator.gpu. Progress goes to the console (the
// bench forwards it); the figures come back as the evaluate's result.
import { openBrowserGpu } from "../../../gpu/index";
import { loraFinetuneFigures, type LoraBenchFigures, type LoraBenchSpec } from "../lora-finetune-figures";

async function loraFinetuneBench(spec: LoraBenchSpec): Promise<LoraBenchFigures> {
  const ctx = await openBrowserGpu({ autotune: false });
  try {
    return await loraFinetuneFigures(ctx, spec, (line) => console.log(`  [chromium] ${line}`));
  } finally {
    ctx.destroy();
  }
}

Object.assign(globalThis, { __loraFinetuneBench: loraFinetuneBench, __hearthReady: true });
