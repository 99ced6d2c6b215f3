// GPT checkpoints in safetensors: Hearth's own (config and tokenizer in __metadata__) and
// GPT-2-architecture checkpoints in Hugging Face naming (transformer.h.N.attn.c_attn.weight ...).
// HF's Conv1D stores weights [in, out], the layout linear() uses, so import is a renaming.

import type { GpuContext } from "../device";
import { GPT } from "../nn/gpt";
import { parameterShapes, validateConfig, type GPTConfig } from "../nn/config";
import { attachLora, loraShapes, type LoraConfig } from "../nn/lora";
import { BytePairTokenizer, type TokenizerJSON } from "../tokenizer/bpe";
import { decodeSafetensors, encodeSafetensors, SafetensorsError, toFloat32, type SafetensorsFile } from "./safetensors";

export const CHECKPOINT_FORMAT = "hearth-gpt/1";

export interface LoadedGPT {
  model: GPT;
  config: GPTConfig;
  tokenizer?: BytePairTokenizer;
  metadata: Record<string, string>;
}

export async function saveGPT(model: GPT, o: { tokenizer?: BytePairTokenizer; metadata?: Record<string, string> } = {}): Promise<Uint8Array> {
  const weights = await model.readParameters();
  const metadata: Record<string, string> = { ...o.metadata, format: CHECKPOINT_FORMAT, config: JSON.stringify(model.config) };
  if (o.tokenizer) metadata.tokenizer = JSON.stringify(o.tokenizer.toJSON());
  if (model.loraConfig) metadata.lora = JSON.stringify(model.loraConfig);
  return encodeSafetensors(new Map([...weights].map(([k, data]) => [k, { shape: model.params.get(k)!.shape, data }])), metadata);
}

function weightsFor(file: SafetensorsFile, config: GPTConfig, nameOf: (n: string) => string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(config)) {
    const src = nameOf(name);
    const t = file.tensors.get(src);
    if (!t) throw new SafetensorsError(`checkpoint: missing tensor "${src}" ([${shape.join(", ")}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SafetensorsError(`checkpoint: tensor "${src}" is [${t.shape.join(", ")}], the config needs [${shape.join(", ")}]`);
    }
    out.set(name, toFloat32(src, t));
  }
  return out;
}

export function loadGPT(ctx: GpuContext, bytes: Uint8Array): LoadedGPT {
  const file = decodeSafetensors(bytes);
  const md = file.metadata;
  if (md.format !== CHECKPOINT_FORMAT || !md.config) {
    throw new SafetensorsError(`checkpoint: not a Hearth GPT checkpoint (metadata format ${JSON.stringify(md.format)}); for Hugging Face GPT-2 files use importHFGPT2`);
  }
  let config: GPTConfig;
  let tokenizer: BytePairTokenizer | undefined;
  try {
    config = validateConfig(JSON.parse(md.config) as GPTConfig);
    if (md.tokenizer) tokenizer = BytePairTokenizer.fromJSON(JSON.parse(md.tokenizer) as TokenizerJSON);
  } catch (e) {
    throw new SafetensorsError(`checkpoint: invalid config or tokenizer in metadata (${(e as Error).message})`);
  }
  const model = GPT.fromWeights(ctx, config, weightsFor(file, config, (n) => n));
  if (md.lora) {
    let lora: LoraConfig;
    try {
      lora = JSON.parse(md.lora) as LoraConfig;
    } catch (e) {
      model.release();
      throw new SafetensorsError(`checkpoint: invalid LoRA config in metadata (${(e as Error).message})`);
    }
    const weights = new Map<string, Float32Array>();
    for (const [name] of loraShapes(model, lora)) {
      const t = file.tensors.get(name);
      if (!t) {
        model.release();
        throw new SafetensorsError(`checkpoint: LoRA adapter tensor "${name}" is missing`);
      }
      weights.set(name, toFloat32(name, t));
    }
    attachLora(model, lora, { weights });
  }
  return { model, config, tokenizer, metadata: md };
}

/** The fields of a Hugging Face GPT-2 config.json that shape the model. */
export interface HFGPT2Config {
  n_layer?: number;
  n_head: number;
  n_embd?: number;
  n_positions?: number;
  vocab_size?: number;
}

/**
 * Imports a GPT-2-architecture checkpoint in HF naming ("transformer." prefix optional;
 * attention-mask buffers and a tied lm_head are ignored). Sizes come from the tensors; the
 * head count, which the tensors cannot tell, from config.json.
 */
export function importHFGPT2(ctx: GpuContext, bytes: Uint8Array, hf: HFGPT2Config): LoadedGPT {
  const file = decodeSafetensors(bytes);
  const prefix = file.tensors.has("transformer.wte.weight") ? "transformer." : "";
  const wte = file.tensors.get(prefix + "wte.weight");
  const wpe = file.tensors.get(prefix + "wpe.weight");
  if (!wte || !wpe) throw new SafetensorsError('checkpoint: no "transformer.wte.weight" / "wpe.weight": not a GPT-2-architecture checkpoint');
  let nLayer = 0;
  while (file.tensors.has(`${prefix}h.${nLayer}.ln_1.weight`)) nLayer++;
  const config = validateConfig({ vocabSize: wte.shape[0], nEmbd: wte.shape[1], blockSize: wpe.shape[0], nLayer, nHead: hf.n_head });
  for (const [k, want] of [["n_layer", config.nLayer], ["n_embd", config.nEmbd], ["n_positions", config.blockSize], ["vocab_size", config.vocabSize]] as const) {
    if (hf[k] !== undefined && hf[k] !== want) throw new SafetensorsError(`checkpoint: config.json says ${k} = ${hf[k]} but the tensors give ${want}`);
  }
  const lmHead = file.tensors.get("lm_head.weight");
  if (lmHead) {
    const a = toFloat32("lm_head.weight", lmHead);
    const b = toFloat32(prefix + "wte.weight", wte);
    if (a.length !== b.length || a.some((x, i) => x !== b[i])) throw new SafetensorsError("checkpoint: lm_head.weight differs from wte.weight; Hearth's GPT ties them");
  }
  const model = GPT.fromWeights(ctx, config, weightsFor(file, config, (n) => prefix + n));
  return { model, config, metadata: file.metadata };
}

export const TRAINING_STATE_FORMAT = "hearth-gpt-train/1";

export interface LoadedTrainingState extends LoadedGPT {
  /** Optimizer steps done when the state was saved. */
  step: number;
}

/**
 * A resumable training state: the model as saveGPT writes it (adapters unmerged) plus the AdamW
 * moments of every trainable parameter ("adamw.m.<name>", "adamw.v.<name>") and the step count.
 */
export async function saveTrainingState(model: GPT, o: { step: number; tokenizer?: BytePairTokenizer; metadata?: Record<string, string> }): Promise<Uint8Array> {
  if (!Number.isInteger(o.step) || o.step < 0) throw new Error(`saveTrainingState: step must be a non-negative integer, got ${o.step}`);
  const names = model.trainableNames();
  if (names.some((n) => !model.m.has(n))) throw new Error("saveTrainingState: the model is not training (call enableTraining first)");
  const weights = await model.readParameters();
  const moments = await model.ctx.readMany(names.flatMap((n) => [model.m.get(n)!, model.v.get(n)!]));
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>([...weights].map(([k, data]) => [k, { shape: model.params.get(k)!.shape, data }]));
  names.forEach((n, i) => {
    const shape = model.params.get(n)!.shape;
    tensors.set(`adamw.m.${n}`, { shape, data: moments[2 * i] as Float32Array });
    tensors.set(`adamw.v.${n}`, { shape, data: moments[2 * i + 1] as Float32Array });
  });
  const metadata: Record<string, string> = { ...o.metadata, format: CHECKPOINT_FORMAT, state: TRAINING_STATE_FORMAT, step: String(o.step), config: JSON.stringify(model.config) };
  if (o.tokenizer) metadata.tokenizer = JSON.stringify(o.tokenizer.toJSON());
  if (model.loraConfig) metadata.lora = JSON.stringify(model.loraConfig);
  return encodeSafetensors(tensors, metadata);
}

/** Loads a state written by saveTrainingState: the model is ready to train on from `step`. */
export function loadTrainingState(ctx: GpuContext, bytes: Uint8Array): LoadedTrainingState {
  const file = decodeSafetensors(bytes);
  if (file.metadata.state !== TRAINING_STATE_FORMAT) throw new SafetensorsError("checkpoint: not a Hearth training state (it has no optimizer moments); load it with loadGPT");
  const step = Number(file.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new SafetensorsError(`checkpoint: invalid step ${JSON.stringify(file.metadata.step)} in metadata`);
  const loaded = loadGPT(ctx, bytes);
  const { model } = loaded;
  try {
    model.enableTraining();
    for (const n of model.trainableNames()) {
      for (const [which, map] of [["m", model.m], ["v", model.v]] as const) {
        const key = `adamw.${which}.${n}`;
        const t = file.tensors.get(key);
        const target = map.get(n)!;
        if (!t) throw new SafetensorsError(`checkpoint: optimizer tensor "${key}" is missing`);
        const data = toFloat32(key, t);
        if (data.length !== target.size) throw new SafetensorsError(`checkpoint: optimizer tensor "${key}" has ${data.length} values, expected ${target.size}`);
        ctx.write(target, data);
      }
    }
  } catch (e) {
    model.release();
    throw e;
  }
  return { ...loaded, step };
}
