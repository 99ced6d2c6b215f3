// Pre-train a GPT on a text file in Node (Dawn; SwiftShader when there is no GPU):
//   npx tsx scripts/train.ts --corpus file.txt --preset tiny --steps 200 --out model.safetensors
// Options: --vocab N (trained byte-level BPE size, default the preset's, at least 256), --batch N,
// --seq N, --accum N, --lr X, --warmup N, --log-every N, --eval-every N, --seed N, --sample N.

import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { openNodeGpu } from "../gpu/device-node";
import { GPT } from "../gpu/nn/gpt";
import { GPT_PRESETS, gptPreset, parameterCount, type GPTPresetName } from "../gpu/nn/config";
import { generateText } from "../gpu/nn/generate";
import { trainBpe } from "../gpu/tokenizer";
import { train } from "../gpu/train";
import { saveGPT, sha256Hex } from "../gpu/io";

const { values: a } = parseArgs({
  options: {
    corpus: { type: "string" },
    preset: { type: "string", default: "tiny" },
    steps: { type: "string", default: "200" },
    out: { type: "string", default: "model.safetensors" },
    vocab: { type: "string" },
    batch: { type: "string", default: "8" },
    seq: { type: "string" },
    accum: { type: "string", default: "1" },
    lr: { type: "string", default: "3e-3" },
    warmup: { type: "string", default: "20" },
    "log-every": { type: "string", default: "10" },
    "eval-every": { type: "string", default: "50" },
    seed: { type: "string", default: "1" },
    sample: { type: "string", default: "64" },
  },
});

function die(msg: string): never {
  console.error(`train: ${msg}`);
  process.exit(2);
}

async function main() {
  if (!a.corpus) die("--corpus <file.txt> is required");
  if (!(a.preset! in GPT_PRESETS)) die(`unknown --preset ${a.preset}; choose one of ${Object.keys(GPT_PRESETS).join(", ")}`);
  const text = readFileSync(a.corpus, "utf8");
  const preset = a.preset as GPTPresetName;
  const vocab = Math.max(256, Number(a.vocab ?? GPT_PRESETS[preset].vocabSize));
  const t0 = performance.now();
  const tokenizer = trainBpe(text, vocab);
  const ids = tokenizer.encode(text);
  console.log(`tokenizer: ${tokenizer.vocabSize} tokens, corpus ${text.length} chars -> ${ids.length} tokens (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const config = gptPreset(preset, { vocabSize: tokenizer.vocabSize });
  const seqLen = Math.min(Number(a.seq ?? config.blockSize), config.blockSize);
  const split = Math.floor(ids.length * 0.9);
  if (split < seqLen + 1 || ids.length - split < seqLen + 1) die(`corpus too small: ${ids.length} tokens for sequences of ${seqLen} (need about ${10 * (seqLen + 1)})`);
  const ctx = await openNodeGpu();
  const model = GPT.create(ctx, config, { seed: Number(a.seed) });
  console.log(`model: ${preset} ${JSON.stringify(config)}, ${parameterCount(config).toLocaleString()} parameters on ${ctx.report.adapter.description || ctx.report.adapter.vendor}`);
  const batch = Number(a.batch);
  await model.tune(batch, seqLen);
  const res = await train(
    model,
    { train: ids.slice(0, split), val: ids.slice(split) },
    {
      steps: Number(a.steps),
      batchSize: batch,
      seqLen,
      gradAccum: Number(a.accum),
      lr: Number(a.lr),
      warmupSteps: Number(a.warmup),
      logEvery: Number(a["log-every"]),
      evalEvery: Number(a["eval-every"]),
      seed: Number(a.seed),
    },
    {
      onStep: (m) => {
        if (m.loss === undefined && m.valLoss === undefined) return;
        const tps = m.tokens / (m.elapsedMs / 1000);
        const parts = [`step ${m.step}`, `lr ${m.lr.toExponential(2)}`];
        if (m.loss !== undefined) parts.push(`loss ${m.loss.toFixed(4)}`);
        if (m.valLoss !== undefined) parts.push(`val ${m.valLoss.toFixed(4)}`);
        parts.push(`${tps.toFixed(0)} tok/s`);
        console.log(parts.join("  "));
      },
    },
  );
  const bytes = await saveGPT(model, { tokenizer, metadata: { preset, steps: String(res.steps), corpus: a.corpus } });
  writeFileSync(a.out!, bytes);
  console.log(`wrote ${a.out} (${bytes.length.toLocaleString()} bytes, sha256 ${await sha256Hex(bytes)})`);
  if (Number(a.sample) > 0) {
    const prompt = text.slice(0, 16);
    const s = await generateText(model, tokenizer, prompt, { maxNewTokens: Number(a.sample), temperature: 0.8, topK: 40, seed: 1 });
    console.log(`sample: ${JSON.stringify(prompt + s.text)}`);
  }
  ctx.destroy();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
