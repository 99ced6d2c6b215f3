// A tiny random llama checkpoint folder written the way save_pretrained writes one (config.json in
// transformers 5's style, bf16 tensors, optionally sharded with model.safetensors.index.json), for
// tests that need an HF folder without Python.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "../../gpu/nn/hf-config";
import { encodeSafetensors, type TensorToWrite } from "../../gpu/io/safetensors";

export const TINY_LLAMA_CONFIG = {
  architectures: ["LlamaForCausalLM"],
  model_type: "llama",
  vocab_size: 64,
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 8,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-5,
  hidden_act: "silu",
  tie_word_embeddings: true,
  rope_parameters: { rope_type: "default", rope_theta: 10000 },
  dtype: "bfloat16",
};

export function writeTinyLlamaFolder(dir: string, o: { shards?: number; seed?: number; config?: Record<string, unknown> } = {}): DecoderConfig {
  mkdirSync(dir, { recursive: true });
  const json = { ...TINY_LLAMA_CONFIG, ...o.config };
  const config = parseHFConfig(json) as DecoderConfig;
  let s = (o.seed ?? 3) >>> 0;
  const rand = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const tensors: Array<[string, TensorToWrite]> = decoderTensorShapes(config).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const bits = new Uint16Array(n);
    for (let i = 0; i < n; i++) {
      f[0] = name.endsWith("norm.weight") ? 1 + 0.3 * (rand() * 2 - 1) : 0.4 * (rand() * 2 - 1);
      bits[i] = u[0] >>> 16;
    }
    return [name, { dtype: "BF16", shape, bytes: new Uint8Array(bits.buffer) }];
  });
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(json, null, 2));
  const shards = o.shards ?? 1;
  if (shards === 1) {
    writeFileSync(path.join(dir, "model.safetensors"), encodeSafetensors(new Map(tensors), { format: "pt" }));
    return config;
  }
  const weightMap: Record<string, string> = {};
  const per = Math.ceil(tensors.length / shards);
  for (let k = 0; k < shards; k++) {
    const file = `model-${String(k + 1).padStart(5, "0")}-of-${String(shards).padStart(5, "0")}.safetensors`;
    const part = tensors.slice(k * per, (k + 1) * per);
    for (const [name] of part) weightMap[name] = file;
    writeFileSync(path.join(dir, file), encodeSafetensors(new Map(part), { format: "pt" }));
  }
  writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: {}, weight_map: weightMap }, null, 2));
  return config;
}
