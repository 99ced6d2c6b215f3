// Loading whatever a Hugging Face folder holds: a llama/mistral/qwen2 decoder (gpu/nn/decoder.ts)
// or a GPT-2 (gpu/nn/gpt.ts through importHFGPT2), and peft LoRA adapters (adapter_config.json +
// adapter_model.safetensors) in and out.

import type { GpuContext } from "../device";
import { importHFGPT2, type LoadedGPT } from "../io/checkpoint";
import { hfWeightFiles, readFolderText, streamSafetensors, type FolderReader } from "../io/hf-folder";
import { HfTokenizerError, loadHfTokenizer, type HfTokenizer } from "../tokenizer/hf-tokenizer";
import { encodeSafetensors, SafetensorsError, toFloat32 } from "../io/safetensors";
import { Decoder, type DecoderLoadOptions, type DecoderLoraConfig, type LoraModule } from "./decoder";
import { parseHFConfig } from "./hf-config";

export type LoadedHF = { kind: "decoder"; model: Decoder } | ({ kind: "gpt2" } & LoadedGPT);

/** A model from an HF folder, by its config.json's model_type. */
export async function loadHFFolder(ctx: GpuContext, reader: FolderReader, o: DecoderLoadOptions = {}): Promise<LoadedHF> {
  const raw = (await reader.readJson("config.json")) as Record<string, unknown>;
  const cfg = parseHFConfig(raw);
  if (cfg.modelType !== "gpt2") return { kind: "decoder", model: await Decoder.fromHF(ctx, reader, o) };
  // GPT-2 checkpoints are small: one file, read whole (importHFGPT2 takes its bytes)
  const files = await hfWeightFiles(reader);
  if (files.length !== 1) throw new SafetensorsError(`a sharded GPT-2 folder (${files.length} files) is not supported`);
  const bytes = await reader.readRange(files[0], 0, await reader.size(files[0]));
  return { kind: "gpt2", ...importHFGPT2(ctx, bytes, raw as { n_head: number }) };
}

/** The folder's own tokenizer: tokenizer.json with tokenizer_config.json, chat_template.jinja and generation_config.json when present. */
export async function loadFolderTokenizer(reader: FolderReader): Promise<HfTokenizer> {
  const tokenizerJson = await readFolderText(reader, "tokenizer.json");
  if (tokenizerJson === null) throw new HfTokenizerError("the folder has no tokenizer.json: Hearth needs the model's own tokenizer (save it with the model: tokenizer.save_pretrained(folder))");
  return loadHfTokenizer({
    tokenizerJson,
    tokenizerConfig: await readFolderText(reader, "tokenizer_config.json"),
    chatTemplate: await readFolderText(reader, "chat_template.jinja"),
    generationConfig: await readFolderText(reader, "generation_config.json"),
  });
}

const PEFT_PREFIX = "base_model.model.";

/**
 * Attaches a peft LoRA adapter folder (adapter_config.json, adapter_model.safetensors) to a
 * decoder. Only plain LoRA is read: rank_pattern/alpha_pattern, DoRA, rsLoRA and biases are refused.
 */
export async function loadPeftAdapter(model: Decoder, reader: FolderReader): Promise<DecoderLoraConfig> {
  const c = (await reader.readJson("adapter_config.json")) as Record<string, unknown>;
  const refuse = (field: string, msg: string): never => {
    throw new SafetensorsError(`adapter_config.json: ${field}: ${msg}`);
  };
  if (c.peft_type !== "LORA") refuse("peft_type", `${JSON.stringify(c.peft_type)} is not supported (LORA)`);
  for (const f of ["use_dora", "use_rslora"]) if (c[f]) refuse(f, "is not supported");
  for (const f of ["rank_pattern", "alpha_pattern"]) if (c[f] && Object.keys(c[f] as object).length) refuse(f, "per-module ranks are not supported");
  if (c.bias && c.bias !== "none") refuse("bias", `${JSON.stringify(c.bias)} is not supported (none)`);
  const r = c.r as number;
  const alpha = c.lora_alpha as number;
  if (!Number.isInteger(r) || r < 1) refuse("r", `must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== "number") refuse("lora_alpha", `must be a number, got ${JSON.stringify(alpha)}`);
  let targets = c.target_modules as string[] | string;
  if (typeof targets === "string") targets = [targets];
  const known: LoraModule[] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
  for (const t of targets ?? []) if (!known.includes(t as LoraModule)) refuse("target_modules", `${JSON.stringify(t)} is not supported (${known.join(", ")})`);
  const weights = new Map<string, Float32Array>();
  for await (const t of streamSafetensors(reader, "adapter_model.safetensors")) {
    const m = /^(?:base_model\.model\.)?(.*)\.(lora_[AB])(?:\.default)?\.weight$/.exec(t.name);
    if (!m) throw new SafetensorsError(`adapter_model.safetensors: unexpected tensor "${t.name}"`);
    weights.set(`${m[1]}.${m[2]}`, toFloat32(t.name, { dtype: t.dtype, shape: t.shape, bytes: t.bytes }));
  }
  const dropout = typeof c.lora_dropout === "number" && c.lora_dropout > 0 && c.lora_dropout < 1 ? c.lora_dropout : undefined;
  const cfg: DecoderLoraConfig = { r, alpha, targets: targets as LoraModule[], ...(dropout ? { dropout } : {}) };
  model.attachLora(cfg, { weights });
  return cfg;
}

/** The decoder's adapters as a peft folder's two files (f32 weights). */
export async function exportPeftAdapter(model: Decoder, o: { baseModel?: string } = {}): Promise<{ "adapter_config.json": string; "adapter_model.safetensors": Uint8Array }> {
  const cfg = model.loraConfig;
  if (!cfg) throw new Error("exportPeftAdapter: the model has no adapters");
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const name of [...model.params.keys()].filter((n) => /\.lora_[AB]$/.test(n)).sort()) {
    tensors.set(`${PEFT_PREFIX}${name}.weight`, { shape: [...model.params.get(name)!.shape], data: await model.readParameter(name) });
  }
  const config = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    base_model_name_or_path: o.baseModel ?? null,
    r: cfg.r,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout ?? 0,
    target_modules: cfg.targets,
    bias: "none",
    fan_in_fan_out: false,
    use_rslora: false,
    use_dora: false,
    inference_mode: true,
  };
  return { "adapter_config.json": JSON.stringify(config, null, 2), "adapter_model.safetensors": encodeSafetensors(tensors, { format: "pt" }) };
}
