// Where a Hearth training step spends its GPU time, on Dawn in Node: tokens/s over a few steps,
// then one step with every dispatch timed by timestamp queries, summed per kernel entry point.
//
//   npx tsx test/bench/train-profile.ts [issue|small|tiny|medium] [--warm 2] [--steps 3] [--batch 8] [--robust]
// --robust keeps Dawn's robust buffer access on, as in a browser (Node contexts turn it off).

import { openNodeGpu } from "../../gpu/device-node";
import { GPT } from "../../gpu/nn/gpt";
import { GPT_PRESETS, type GPTConfig } from "../../gpu/nn/config";
import { train } from "../../gpu/train";
import type { KernelProfile } from "../../gpu/device";

const CONFIGS: Record<string, GPTConfig> = {
  issue: { vocabSize: 256, blockSize: 64, nLayer: 2, nHead: 4, nEmbd: 64 },
  tiny: { ...GPT_PRESETS.tiny },
  small: { ...GPT_PRESETS.small },
  medium: { ...GPT_PRESETS.medium },
};

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const presetName = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : "issue";
const config = CONFIGS[presetName];
if (!config) throw new Error(`unknown preset ${presetName}; choose one of ${Object.keys(CONFIGS).join(", ")}`);
const warm = arg("warm", 2);
const timed = arg("steps", 3);
const B = arg("batch", 8);
const T = config.blockSize;

const ctx = await openNodeGpu(process.argv.includes("--robust") ? { dawnFeatures: [] } : {});
const model = GPT.create(ctx, config, { seed: 1 });
await model.tune(B, T);
const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 7919 + (i >> 3)) % Math.min(256, config.vocabSize));
let t0 = 0;
let t1 = 0;
let d0 = 0;
let d1 = 0;
let s0 = 0;
let s1 = 0;
let profile: KernelProfile[] = [];
const steps = warm + timed + 1;
await train(model, { train: data }, { steps, batchSize: B, lr: 3e-3, logEvery: steps }, {
  onStep: async (m) => {
    if (m.step === warm) {
      await ctx.sync();
      [t0, d0, s0] = [performance.now(), ctx.dispatches, ctx.submits];
    } else if (m.step === warm + timed) {
      await ctx.sync();
      [t1, d1, s1] = [performance.now(), ctx.dispatches, ctx.submits];
      if (ctx.features.timestampQuery) ctx.startProfile();
    } else if (m.step === steps && ctx.features.timestampQuery) profile = await ctx.stopProfile();
  },
});
const ms = (t1 - t0) / timed;
console.log(
  `${presetName} ${JSON.stringify(config)} batch ${B} on Dawn/Node (${ctx.report.adapter.vendor} ${ctx.report.adapter.architecture}): ` +
    `${((B * T) / (ms / 1000)).toFixed(1)} tokens/s, ${ms.toFixed(0)} ms/step, ${((d1 - d0) / timed).toFixed(0)} dispatches/step, ` +
    `${((s1 - s0) / timed).toFixed(1)} submits/step; peak tensors ${(ctx.pool.getStats().peakBytesInUse / 2 ** 20).toFixed(1)} MiB`,
);
console.log(`matmul choices: ${JSON.stringify(Object.fromEntries([...ctx.choices].filter(([k]) => k.startsWith("matmul"))))}`);
if (profile.length) {
  const total = profile.reduce((s, k) => s + k.ms, 0);
  console.log(`\nOne profiled step (each dispatch in its own timed pass): ${total.toFixed(1)} ms of kernel time`);
  for (const k of profile) console.log(`${k.name.padEnd(36)} ${String(k.dispatches).padStart(5)}  ${k.ms.toFixed(2).padStart(9)} ms  ${((100 * k.ms) / total).toFixed(1).padStart(5)} %`);
}
model.release();
ctx.destroy();
process.exit(0);
