// Checks the benchmark's tfjs peer (test/bench/browser/tfjs-gpt.ts) against Hearth: the same GPT,
// init, batches and optimizer trained for a few steps by tfjs on its CPU backend (Node) and by
// Hearth on Dawn; prints both loss curves. They agree to float32 noise when the peer is faithful.
//
//   npx tsx test/bench/tfjs-parity.ts [steps]

import * as tf from "@tensorflow/tfjs";
import { openNodeGpu } from "../../gpu/device-node";
import { GPT } from "../../gpu/nn/gpt";
import type { GPTConfig } from "../../gpu/nn/config";
import { train } from "../../gpu/train";
import { tfjsTrainer } from "./browser/tfjs-gpt";

const steps = Number(process.argv[2] ?? 6);
const config: GPTConfig = { vocabSize: 256, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 32 };
const B = 4;
const lr = 3e-3;
const data = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7919 + (i >> 3)) % 97);

await tf.setBackend("cpu");
const trainer = tfjsTrainer(config, { seed: 1, batchSize: B, lr, steps, data });
const tfLosses: number[] = [];
for (let i = 0; i < steps; i++) {
  const l = trainer.step(i);
  tfLosses.push((await l.data())[0]);
  l.dispose();
}
trainer.dispose();

const ctx = await openNodeGpu({ autotune: false });
const model = GPT.create(ctx, config, { seed: 1 });
const res = await train(model, { train: data }, { steps, batchSize: B, lr, warmupSteps: 0, logEvery: 1, seed: 1 });
const hearth = res.losses.map((l) => l.loss);
for (let i = 0; i < steps; i++) console.log(`step ${i + 1}: tfjs-cpu ${tfLosses[i].toFixed(5)}  Hearth ${hearth[i].toFixed(5)}`);
const worst = Math.max(...tfLosses.map((l, i) => Math.abs(l - hearth[i])));
console.log(`largest difference ${worst.toExponential(2)}`);
model.release();
ctx.destroy();
process.exit(0);
