// Pre-train a GPT on a text file in Node (Dawn; SwiftShader when there is no GPU):
//   npx tsx scripts/train.ts --corpus file.txt --preset tiny --steps 200 --out model.safetensors
// Or run a training job exactly as the browser and GPU nodes do (npm run train -- --config job.json):
//   job.json = a TrainJobSpec plus "dataset" (corpus or JSON Lines pairs) and optional "parent"
//   (a model checkpoint, or a Hugging Face folder: then --out is the folder written), paths in it relative to job.json; --config, --out and --resume relative to the folder
//   the command was typed in (npm's INIT_CWD), where the outputs go. The latest training state
//   is kept in <out>.state; --resume <that file> continues from it.
// Options: --vocab N (trained byte-level BPE size, default the preset's, at least 256), --batch N,
// --seq N, --accum N, --lr X, --warmup N, --log-every N, --eval-every N, --seed N, --sample N.

import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { readFolderFiles, writeFolderFiles } from "../gpu/io/folder-node";
import path from "node:path";
import { parseArgs } from "node:util";
import { openNodeGpu } from "../gpu/device-node";
import { GPT } from "../gpu/nn/gpt";
import { GPT_PRESETS, gptPreset, parameterCount, type GPTPresetName } from "../gpu/nn/config";
import { generateText } from "../gpu/nn/generate";
import { trainBpe } from "../gpu/tokenizer";
import { runTrainJob, train, validateTrainJobSpec } from "../gpu/train";
import { isTar, readTar, saveGPT, sha256Hex, writeTar } from "../gpu/io";

/** A parent: a Hearth checkpoint file, or a Hugging Face folder (sent to the job as one archive). */
function readParent(p: string): Uint8Array {
  return statSync(p).isDirectory() ? writeTar(readFolderFiles(p)) : readFileSync(p);
}

const { values: a } = parseArgs({
  options: {
    config: { type: "string" },
    resume: { type: "string" },
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

// npm runs scripts in the package's folder; INIT_CWD is where `npm run train` was typed. Paths given on
// the command line are read from there and outputs written there, as with any command.
const invokedFrom = process.env.INIT_CWD ?? process.cwd();
const fromInvocation = (p: string) => path.resolve(invokedFrom, p);

function die(msg: string): never {
  console.error(`train: ${msg}`);
  process.exit(2);
}

/** --config job.json: one runTrainJob, as a browser worker or a GPU node runs it. */
async function runJobFile(file: string) {
  let job: Record<string, unknown>;
  try {
    job = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (e) {
    die(`cannot read ${file}: ${(e as Error).message}`);
  }
  const { dataset, parent, ...rest } = job;
  if (typeof dataset !== "string") die(`${file}: "dataset" (the path of a corpus or a JSON Lines file of pairs) is required`);
  let spec;
  try {
    spec = validateTrainJobSpec(rest);
  } catch (e) {
    die(`${file}: ${(e as Error).message}`);
  }
  const near = (p: string) => path.resolve(path.dirname(file), p);
  const out = fromInvocation(a.out!);
  mkdirSync(path.dirname(out), { recursive: true });
  const ctx = await openNodeGpu();
  const t0 = performance.now();
  const res = await runTrainJob(
    ctx,
    spec,
    { dataset: readFileSync(near(dataset)), parent: typeof parent === "string" ? readParent(near(parent)) : undefined, resume: a.resume ? readFileSync(fromInvocation(a.resume)) : undefined },
    {
      onPhase: (phase) => console.log(`${phase}...`),
      onStep: (m) => {
        if (m.loss === undefined && m.valLoss === undefined) return;
        const parts = [`step ${m.step}/${spec.steps}`, `lr ${m.lr.toExponential(2)}`];
        if (m.loss !== undefined) parts.push(`loss ${m.loss.toFixed(4)}`);
        if (m.valLoss !== undefined) parts.push(`val ${m.valLoss.toFixed(4)}`);
        parts.push(`${(m.tokens / (m.elapsedMs / 1000)).toFixed(0)} tok/s`);
        console.log(parts.join("  "));
      },
      onCheckpoint: (step, bytes) => {
        // Written aside then renamed: an interrupted write never replaces the last good state.
        writeFileSync(`${out}.state.partial`, bytes);
        renameSync(`${out}.state.partial`, `${out}.state`);
        console.log(`checkpoint at step ${step} -> ${out}.state`);
      },
    },
  );
  if (!res.artifact) die("the job ended without a model (cancelled)");
  if (isTar(res.artifact)) {
    // a Hugging Face model: --out is a folder transformers loads (adapter/ holds a LoRA run's peft adapter)
    writeFolderFiles(readTar(res.artifact), out);
  } else writeFileSync(out, res.artifact);
  const memory = res.memory ? `; GPU memory planned ${(res.memory.plannedBytes / 2 ** 20).toFixed(1)} MiB, measured peak ${(res.memory.peakBytes / 2 ** 20).toFixed(1)} MiB` : "";
  console.log(`wrote ${out}: ${res.parameters.toLocaleString()} parameters, ${res.artifact.length.toLocaleString()} bytes, sha256 ${res.sha256} (${((performance.now() - t0) / 1000).toFixed(1)} s)${memory}`);
  ctx.destroy();
}

async function main() {
  if (a.config) return runJobFile(fromInvocation(a.config));
  if (!a.corpus) die("--corpus <file.txt> is required");
  if (!(a.preset! in GPT_PRESETS)) die(`unknown --preset ${a.preset}; choose one of ${Object.keys(GPT_PRESETS).join(", ")}`);
  const text = readFileSync(fromInvocation(a.corpus), "utf8");
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
  writeFileSync(fromInvocation(a.out!), bytes);
  console.log(`wrote ${fromInvocation(a.out!)} (${bytes.length.toLocaleString()} bytes, sha256 ${await sha256Hex(bytes)})`);
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
