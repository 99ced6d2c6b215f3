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
