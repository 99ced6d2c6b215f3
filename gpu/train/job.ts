// One training job, described by plain data (a run's config) and run the same way in a browser
// worker and on a GPU node: read the dataset, build or load the model (and its tokenizer), train with
// checkpoints that can be resumed exactly, and produce the final checkpoint (LoRA merged).

import type { GpuContext } from "../device";
import { GPT } from "../nn/gpt";
import { GPT_PRESETS, gptPreset, parameterCount, type GPTConfig, type GPTPresetName } from "../nn/config";
import { attachLora, mergeLora, LORA_DEFAULTS } from "../nn/lora";
import { trainBpe, type BytePairTokenizer } from "../tokenizer";
import { loadGPT, loadTrainingState, saveGPT, saveTrainingState } from "../io/checkpoint";
import { sha256Hex } from "../io/safetensors";
import { SftSampler, type SftExample } from "./train";
import { corpusData, exampleData, TOKENIZER_SAMPLE_CHARS, trainForJob } from "./job-run";
import { isTar } from "../io/tar";
import { runDecoderTrainJob } from "./decoder-job";
import { DECODER_SHAPES, type DecoderShapeName } from "./memory-plan";
import { TRAIN_JOB_KINDS, type TrainJobHooks, type TrainJobInput, type TrainJobKind, type TrainJobResult, type TrainJobSpec } from "./job-types";

export * from "./job-types";

/** Ends every response in supervised data; generation stops there (the eval runner's default stop). */
export const SFT_END = "\n\n";
const MAX_STEPS = 1_000_000;

class SpecError extends Error {}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw new SpecError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function optionalInt(v: unknown, name: string, min: number, max: number): number | undefined {
  return v === undefined || v === null ? undefined : int(v, name, min, max);
}

/** Checks a spec from untrusted JSON (a run's config) and returns only its known fields. */
export function validateTrainJobSpec(raw: unknown): TrainJobSpec {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new SpecError("training config must be an object");
  const r = raw as Record<string, unknown>;
  if (!TRAIN_JOB_KINDS.includes(r.kind as TrainJobKind)) throw new SpecError(`kind must be one of ${TRAIN_JOB_KINDS.join(", ")}, got ${JSON.stringify(r.kind)}`);
  if (r.preset !== undefined && r.preset !== null && (typeof r.preset !== "string" || !Object.hasOwn(GPT_PRESETS, r.preset))) {
    throw new SpecError(`preset must be one of ${Object.keys(GPT_PRESETS).join(", ")}, got ${JSON.stringify(r.preset)}`);
  }
  const preset = (r.preset ?? undefined) as GPTPresetName | undefined;
  if (typeof r.lr !== "number" || !(r.lr > 0 && r.lr <= 1)) throw new SpecError(`lr must be a number in (0, 1], got ${JSON.stringify(r.lr)}`);
  const steps = int(r.steps, "steps", 1, MAX_STEPS);
  const spec: TrainJobSpec = {
    kind: r.kind as TrainJobKind,
    preset,
    steps,
    batchSize: int(r.batchSize, "batchSize", 1, 4096),
    // a decoder parent's context can be long; a GPT's own block size caps it when the job runs
    seqLen: optionalInt(r.seqLen, "seqLen", 2, 131_072),
    lr: r.lr,
    warmupSteps: optionalInt(r.warmupSteps, "warmupSteps", 0, steps),
    gradAccum: optionalInt(r.gradAccum, "gradAccum", 1, 1024),
    vocabSize: optionalInt(r.vocabSize, "vocabSize", 256, 65_536),
    seed: optionalInt(r.seed, "seed", 0, 2 ** 31 - 1),
    checkpointEvery: int(r.checkpointEvery, "checkpointEvery", 1, MAX_STEPS),
    evalEvery: optionalInt(r.evalEvery, "evalEvery", 0, MAX_STEPS),
  };
  if (r.lora !== undefined && r.lora !== null) {
    const l = r.lora as Record<string, unknown>;
    if (typeof l !== "object") throw new SpecError("lora must be an object like { rank, alpha }");
    spec.lora = { rank: int(l.rank, "lora.rank", 1, 256), alpha: typeof l.alpha === "number" && l.alpha > 0 ? l.alpha : LORA_DEFAULTS.alpha };
    if (l.dropout !== undefined && l.dropout !== null && l.dropout !== 0) {
      if (typeof l.dropout !== "number" || !(l.dropout > 0 && l.dropout < 1)) throw new SpecError(`lora.dropout must be a number in [0, 1), got ${JSON.stringify(l.dropout)}`);
      spec.lora.dropout = l.dropout;
    }
    if (l.targets !== undefined && l.targets !== null) {
      if (!Array.isArray(l.targets) || !l.targets.length || l.targets.length > 16 || !l.targets.every((t) => typeof t === "string" && /^[a-z_]{1,32}$/.test(t))) {
        throw new SpecError(`lora.targets must be a list of module names like ["q_proj", "v_proj"], got ${JSON.stringify(l.targets).slice(0, 200)}`);
      }
      spec.lora.targets = [...new Set(l.targets as string[])];
    }
  }
  if (r.architecture !== undefined && r.architecture !== null) {
    if (typeof r.architecture !== "string" || !Object.hasOwn(DECODER_SHAPES, r.architecture)) throw new SpecError(`architecture must be one of ${Object.keys(DECODER_SHAPES).join(", ")}, got ${JSON.stringify(r.architecture)}`);
    if (spec.preset) throw new SpecError("give a preset (a Hearth GPT) or an architecture (a Hugging Face decoder), not both");
    spec.architecture = r.architecture as DecoderShapeName;
  }
  if (r.recompute !== undefined && r.recompute !== null && r.recompute !== false) {
    if (r.recompute !== true) throw new SpecError(`recompute must be true or false, got ${JSON.stringify(r.recompute)}`);
    spec.recompute = true;
  }
  if (r.exportDtype !== undefined && r.exportDtype !== null) {
    if (r.exportDtype !== "source" && r.exportDtype !== "float32") throw new SpecError(`exportDtype must be "source" or "float32", got ${JSON.stringify(r.exportDtype)}`);
    spec.exportDtype = r.exportDtype;
  }
  if (r.gpus !== undefined && r.gpus !== null) {
    spec.gpus = int(r.gpus, "gpus", 1, 64);
    if (spec.batchSize % spec.gpus !== 0) throw new SpecError(`batchSize ${spec.batchSize} must be a multiple of gpus ${spec.gpus}: each process takes an equal share of every batch`);
    if (spec.gpus === 1) delete spec.gpus;
  }
  if (r.nodes !== undefined && r.nodes !== null) {
    spec.nodes = int(r.nodes, "nodes", 1, 64);
    const world = spec.nodes * (spec.gpus ?? 1);
    if (spec.batchSize % world !== 0) throw new SpecError(`batchSize ${spec.batchSize} must be a multiple of nodes x gpus (${world}): each process takes an equal share of every batch`);
    if (spec.nodes === 1) delete spec.nodes;
  }
  if (r.strategy !== undefined && r.strategy !== null) {
    if (r.strategy !== "ddp" && r.strategy !== "fsdp") throw new SpecError(`strategy must be "ddp" or "fsdp", got ${JSON.stringify(r.strategy)}`);
    spec.strategy = r.strategy;
  }
  if (spec.kind === "LORA" && !spec.lora) spec.lora = { rank: LORA_DEFAULTS.rank, alpha: LORA_DEFAULTS.alpha };
  for (const k of Object.keys(spec) as Array<keyof TrainJobSpec>) if (spec[k] === undefined) delete spec[k];
  return spec;
}

/** The model shape a spec trains (a parent model's shape wins when there is one). */
export function specModelConfig(spec: TrainJobSpec): GPTConfig {
  if (!spec.preset) throw new SpecError(`a model trained from scratch needs a preset (${Object.keys(GPT_PRESETS).join(", ")})`);
  const vocab = spec.vocabSize ?? Math.max(256, GPT_PRESETS[spec.preset].vocabSize);
  return gptPreset(spec.preset, { vocabSize: vocab });
}

export interface TrainJobEstimate {
  parameters: number;
  /** GPU buffers while training: weights, gradients, two AdamW moments, activations kept for backward, logits. */
  bufferBytes: number;
  /** The largest single buffer (compare with the adapter's maxStorageBufferBindingSize). */
  largestBufferBytes: number;
  flopsPerStep: number;
  tokensPerStep: number;
}

/** Rough needs of a job, to choose where it runs; config defaults to the spec's preset. */
export function estimateTrainJob(spec: TrainJobSpec, config: GPTConfig = specModelConfig(spec)): TrainJobEstimate {
  const { nLayer: L, nEmbd: C, nHead: H, vocabSize: V } = config;
  const T = spec.seqLen ?? config.blockSize;
  const B = spec.batchSize;
  const N = parameterCount(config);
  const tokens = B * T * (spec.gradAccum ?? 1);
  // Per token and layer the forward pass keeps about 16 C values (ln, qkv, attention out, MLP 4C twice, ...) and H*T attention weights.
  const activations = B * T * (L * (16 * C + H * T) + 2 * V);
  const bufferBytes = 4 * (4 * N + activations);
  const largestBufferBytes = 4 * Math.max(B * T * V, V * C, B * H * T * T, B * T * 4 * C);
  const flopsPerStep = tokens * (6 * N + 12 * L * T * C);
  return { parameters: N, bufferBytes, largestBufferBytes, flopsPerStep, tokensPerStep: tokens };
}

/** Parses JSON Lines of {"prompt", "response"}; errors name the line. */
export function parsePairs(text: string): Array<{ prompt: string; response: string }> {
  const out: Array<{ prompt: string; response: string }> = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new SpecError(`dataset line ${i + 1}: not valid JSON`);
    }
    const p = v as { prompt?: unknown; response?: unknown };
    if (typeof p?.prompt !== "string" || typeof p.response !== "string") throw new SpecError(`dataset line ${i + 1}: expected {"prompt": "...", "response": "..."}`);
    out.push({ prompt: p.prompt, response: p.response });
  });
  if (!out.length) throw new SpecError("dataset holds no prompt/response pairs");
  return out;
}

/** Tokenized prompt/response pairs; the response ends with SFT_END so generation learns to stop. */
export function sftExamples(pairs: ReadonlyArray<{ prompt: string; response: string }>, tokenizer: Pick<BytePairTokenizer, "encode">): SftExample[] {
  return pairs.map((p) => ({ prompt: tokenizer.encode(p.prompt), response: tokenizer.encode(p.response + SFT_END) }));
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function decodeText(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new SpecError("dataset is not valid UTF-8 text");
  }
}

function specFingerprint(spec: TrainJobSpec): string {
  const { checkpointEvery: _c, evalEvery: _e, ...shape } = spec;
  return JSON.stringify(shape, Object.keys(shape).sort());
}

export async function runTrainJob(ctx: GpuContext, rawSpec: TrainJobSpec, input: TrainJobInput, hooks: TrainJobHooks = {}): Promise<TrainJobResult> {
  const spec = validateTrainJobSpec(rawSpec);
  if ((input.parent && isTar(input.parent)) || (!input.parent && spec.architecture)) return runDecoderTrainJob(ctx, spec, input, hooks, { fingerprint: specFingerprint(spec), decodeText });
  hooks.onPhase?.("preparing");
  const text = decodeText(input.dataset);

  // Model and tokenizer: from the resumed state, the parent, or fresh.
  let model: GPT;
  let tokenizer: BytePairTokenizer | undefined;
  let startStep = 0;
  if (input.resume) {
    const state = loadTrainingState(ctx, input.resume);
    if (state.metadata.spec && state.metadata.spec !== specFingerprint(spec)) {
      state.model.release();
      throw new SpecError("the checkpoint was written by a different training configuration; it cannot be resumed with this one");
    }
    ({ model, tokenizer, step: startStep } = state);
  } else if (input.parent) {
    ({ model, tokenizer } = loadGPT(ctx, input.parent));
    if (model.loraConfig) {
      model.release();
      throw new SpecError("the parent checkpoint still has LoRA adapters; use a merged export");
    }
    if (spec.kind === "LORA") {
      if (spec.lora?.dropout || spec.lora?.targets) {
        model.release();
        throw new SpecError("LoRA dropout and target modules apply to Hugging Face models; a Hearth GPT adapts its attention projections");
      }
      attachLora(model, { ...LORA_DEFAULTS, rank: spec.lora!.rank, alpha: spec.lora!.alpha }, { seed: spec.seed ?? 1 });
    }
  } else {
    if (spec.kind !== "PRETRAIN") throw new SpecError(`${spec.kind} fine-tunes a parent model version: choose one`);
    hooks.onPhase?.("tokenizing");
    tokenizer = trainBpe(text.slice(0, TOKENIZER_SAMPLE_CHARS), specModelConfig(spec).vocabSize);
    model = GPT.create(ctx, { ...specModelConfig(spec), vocabSize: tokenizer.vocabSize }, { seed: spec.seed ?? 1 });
  }
  try {
    if (!tokenizer) throw new SpecError("the parent checkpoint has no tokenizer; Hearth cannot encode text for it");
    const config = model.config;
    const seqLen = Math.min(spec.seqLen ?? config.blockSize, config.blockSize);
    hooks.onPhase?.("tokenizing");
    const tok = tokenizer;
    const data =
      spec.kind === "PRETRAIN"
        ? corpusData(tok.encode(text), seqLen, spec)
        : exampleData(sftExamples(parsePairs(text), tok), spec, (examples, seed) => new SftSampler(examples, spec.batchSize, seqLen, seed));
    await model.tune(spec.batchSize, seqLen);
    hooks.onPhase?.("training");
    const metadata = { spec: specFingerprint(spec) };
    const result = await trainForJob(model, data, spec, { seqLen, startStep, hooks, save: (step) => saveTrainingState(model, { step, tokenizer: tok, metadata }) });
    const out: TrainJobResult = { status: result.status, steps: result.steps, losses: result.losses, valLosses: result.valLosses, config, parameters: model.parameterCount };
    if (result.status === "completed") {
      hooks.onPhase?.("saving");
      if (model.loraConfig) mergeLora(model);
      out.artifact = await saveGPT(model, { tokenizer, metadata: { kind: spec.kind, ...(spec.preset ? { preset: spec.preset } : {}), steps: String(result.steps) } });
      out.sha256 = await sha256Hex(out.artifact);
      out.parameters = model.parameterCount;
    }
    return out;
  } finally {
    model.release();
  }
}
