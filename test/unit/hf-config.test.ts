// Hugging Face config.json files read into plain DecoderConfigs, in both styles (transformers 5's
// rope_parameters/dtype, 4.x's rope_theta/rope_scaling/torch_dtype), and refusals naming the field.
import { describe, expect, it } from "vitest";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "@/gpu/nn/hf-config";

const llama5 = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  dtype: "bfloat16",
  head_dim: 32,
  hidden_act: "silu",
  hidden_size: 64,
  intermediate_size: 128,
  max_position_embeddings: 64,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 2,
  num_hidden_layers: 2,
  num_key_value_heads: 1,
  pretraining_tp: 1,
  rms_norm_eps: 1e-6,
  rope_parameters: { factor: 8.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 16, rope_theta: 10000.0, rope_type: "llama3" },
  tie_word_embeddings: false,
  transformers_version: "5.18.0",
  vocab_size: 96,
};

// SmolLM2-135M's config.json as the Hub holds it (transformers 4.x style).
const smollm2 = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  bos_token_id: 0,
  eos_token_id: 0,
  hidden_act: "silu",
  hidden_size: 576,
  initializer_range: 0.041666666666666664,
  intermediate_size: 1536,
  is_llama_config: true,
  max_position_embeddings: 8192,
  model_type: "llama",
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: "bfloat16",
  transformers_version: "4.42.3",
  use_cache: true,
  vocab_size: 49152,
};

const qwen2v4 = {
  architectures: ["Qwen2ForCausalLM"],
  dtype: "float32",
  hidden_act: "silu",
  hidden_size: 32,
  intermediate_size: 64,
  layer_types: ["full_attention", "full_attention"],
  max_position_embeddings: 64,
  max_window_layers: 28,
  model_type: "qwen2",
  num_attention_heads: 4,
  num_hidden_layers: 2,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_scaling: null,
  rope_theta: 1000000.0,
  sliding_window: null,
  tie_word_embeddings: false,
  transformers_version: "4.57.6",
  use_sliding_window: false,
  vocab_size: 112,
};

describe("parseHFConfig", () => {
  it("reads transformers 5's rope_parameters (llama3 scaling) and dtype", () => {
    const c = parseHFConfig(JSON.stringify(llama5)) as DecoderConfig;
    expect(c).toMatchObject({ modelType: "llama", vocabSize: 96, hiddenSize: 64, nHead: 2, nKvHead: 1, headDim: 32, nLayer: 2, tieWordEmbeddings: false, qkvBias: false, dtype: "bfloat16" });
    expect(c.rope).toEqual({ theta: 10000, type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 });
    expect(c.layerWindows).toEqual([null, null]);
  });

  it("reads the Hub's rope_theta/rope_scaling/torch_dtype (SmolLM2-135M)", () => {
    const c = parseHFConfig(smollm2) as DecoderConfig;
    expect(c).toMatchObject({ hiddenSize: 576, nHead: 9, nKvHead: 3, headDim: 64, intermediateSize: 1536, tieWordEmbeddings: true, rmsNormEps: 1e-5, dtype: "bfloat16", maxPositions: 8192 });
    expect(c.rope).toEqual({ theta: 100000, type: "default" });
    expect(decoderTensorShapes(c).find(([n]) => n === "lm_head.weight")).toBeUndefined();
    expect(decoderTensorShapes(c).find(([n]) => n === "model.layers.0.self_attn.k_proj.weight")![1]).toEqual([192, 576]);
  });

  it("reads linear rope scaling in both styles, with `type` or `rope_type`", () => {
    const base = { ...llama5, rope_parameters: undefined };
    const a = parseHFConfig({ ...base, rope_theta: 500000, rope_scaling: { type: "linear", factor: 2 } }) as DecoderConfig;
    const b = parseHFConfig({ ...base, rope_parameters: { rope_type: "linear", factor: 2, rope_theta: 500000 } }) as DecoderConfig;
    expect(a.rope).toEqual({ theta: 500000, type: "linear", factor: 2 });
    expect(b.rope).toEqual(a.rope);
  });

  it("qwen2: biases on q, k, v (not o); sliding window per layer from layer_types or max_window_layers", () => {
    const c = parseHFConfig(qwen2v4) as DecoderConfig;
    expect(c).toMatchObject({ qkvBias: true, oBias: false, mlpBias: false, layerWindows: [null, null] });
    expect(c.rope).toEqual({ theta: 1e6, type: "default" });
    const sw = parseHFConfig({ ...qwen2v4, layer_types: undefined, use_sliding_window: true, sliding_window: 8, max_window_layers: 1 }) as DecoderConfig;
    expect(sw.layerWindows).toEqual([null, 8]);
    const lt = parseHFConfig({ ...qwen2v4, use_sliding_window: true, sliding_window: 8, layer_types: ["sliding_attention", "full_attention"] }) as DecoderConfig;
    expect(lt.layerWindows).toEqual([8, null]);
  });

  it("mistral: sliding_window on every layer", () => {
    const c = parseHFConfig({ ...llama5, model_type: "mistral", sliding_window: 5, rope_parameters: { rope_type: "default", rope_theta: 10000 } }) as DecoderConfig;
    expect(c.layerWindows).toEqual([5, 5]);
    expect(c.qkvBias).toBe(false);
  });

  it("llama: attention_bias puts biases on q, k, v and o; mlp_bias on the MLP", () => {
    const c = parseHFConfig({ ...llama5, attention_bias: true, mlp_bias: true }) as DecoderConfig;
    expect(c).toMatchObject({ qkvBias: true, oBias: true, mlpBias: true });
    expect(decoderTensorShapes(c).map(([n]) => n)).toContain("model.layers.1.mlp.down_proj.bias");
  });

  it("reads gpt2", () => {
    const c = parseHFConfig({ model_type: "gpt2", n_embd: 32, n_head: 4, n_layer: 2, n_positions: 64, vocab_size: 128, activation_function: "gelu_new", layer_norm_epsilon: 1e-5 });
    expect(c).toMatchObject({ modelType: "gpt2", nEmbd: 32, nHead: 4, nLayer: 2, blockSize: 64, vocabSize: 128 });
  });

  it.each([
    [{ model_type: "mixtral" }, /model_type: "mixtral" is not supported/],
    [{ num_local_experts: 8 }, /num_local_experts: mixture-of-experts/],
    [{ num_experts: 60 }, /num_experts: mixture-of-experts/],
    [{ vision_config: {} }, /vision_config: vision or multimodal/],
    [{ hidden_act: "gelu" }, /hidden_act: "gelu" is not supported/],
    [{ rope_parameters: { rope_type: "yarn", factor: 4, rope_theta: 1e4 } }, /rope_parameters.rope_type: rope type "yarn" is not supported/],
    [{ rope_parameters: undefined, rope_scaling: { type: "dynamic", factor: 2 } }, /rope_scaling.type: rope type "dynamic" is not supported/],
    [{ rope_parameters: { rope_type: "llama3", factor: 8, rope_theta: 1e4 } }, /rope_parameters.low_freq_factor: must be a positive number/],
    [{ num_key_value_heads: 3 }, /num_key_value_heads: 3 must divide num_attention_heads 2/],
    [{ partial_rotary_factor: 0.5 }, /partial_rotary_factor: only 1.0/],
    [{ dtype: "float8_e4m3fn" }, /dtype: unsupported dtype/],
    [{ vocab_size: undefined }, /vocab_size: is required/],
    [{ quantization_config: { quant_method: "gptq" } }, /quantization_config/],
  ])("refuses %j naming the field", (patch, msg) => {
    expect(() => parseHFConfig({ ...llama5, ...patch })).toThrow(msg);
  });
});
