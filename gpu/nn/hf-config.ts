// A Hugging Face `config.json` read into a plain DecoderConfig: llama, mistral and qwen2 (one
// decoder: RMSNorm, rotary embeddings in the rotate-half layout, SwiGLU MLP, grouped-query
// attention, optional sliding window and q/k/v biases), and gpt2 (the GPT class). Both config
// styles are read: transformers 5 writes `rope_parameters` and `dtype`; 4.x writes `rope_theta`,
// `rope_scaling` and `torch_dtype`. Anything the engine cannot run is refused with an error that
// names the field.

/** Mirrors gpu/ops/rope.ts's RopeSpec (kept here as plain data so configs need no GPU code). */
export interface RopeConfig {
  theta: number;
  type: "default" | "linear" | "llama3";
  factor?: number;
  lowFreqFactor?: number;
  highFreqFactor?: number;
  originalMaxPositionEmbeddings?: number;
}

export type HFDType = "float32" | "float16" | "bfloat16";

export interface DecoderConfig {
  modelType: "llama" | "mistral" | "qwen2";
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  nLayer: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  maxPositions: number;
  rmsNormEps: number;
  rope: RopeConfig;
  tieWordEmbeddings: boolean;
  /** Biases on q, k, v. */
  qkvBias: boolean;
  /** Bias on o_proj. */
  oBias: boolean;
  /** Biases on gate, up and down. */
  mlpBias: boolean;
  /** Per layer: the sliding window (keys j with p - W < j <= p), or null for full causal attention. */
  layerWindows: Array<number | null>;
  /** The checkpoint's declared dtype (the tensors' own dtypes decide what is loaded). */
  dtype: HFDType;
}

export interface HFGpt2Config {
  modelType: "gpt2";
  vocabSize: number;
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
  layerNormEps: number;
  dtype: HFDType;
}

export class HFConfigError extends Error {}

type Json = Record<string, unknown>;

function refuse(field: string, msg: string): never {
  throw new HFConfigError(`config.json: ${field}: ${msg}`);
}

function int(c: Json, field: string, fallback?: number): number {
  const v = c[field] ?? fallback;
  if (v === undefined || v === null) refuse(field, "is required");
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) refuse(field, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

function num(c: Json, field: string, fallback?: number): number {
  const v = c[field] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) refuse(field, `must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(c: Json, field: string, fallback: boolean): boolean {
  const v = c[field] ?? fallback;
  if (typeof v !== "boolean") refuse(field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

const MOE_FIELDS = ["num_local_experts", "num_experts", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"];
const MULTIMODAL_FIELDS = ["vision_config", "text_config", "audio_config", "vision_tower", "mm_projector_type"];

function dtypeOf(c: Json): HFDType {
  const field = c.dtype !== undefined && c.dtype !== null ? "dtype" : "torch_dtype";
  const v = c[field] ?? "float32";
  if (v === "float32" || v === "float16" || v === "bfloat16") return v;
  refuse(field, `unsupported dtype ${JSON.stringify(v)} (float32, float16 or bfloat16)`);
}

/** rope_parameters (transformers 5) or rope_theta + rope_scaling (4.x, and most Hub folders). */
function ropeOf(c: Json): RopeConfig {
  let params: Json;
  let field: string;
  if (c.rope_parameters !== undefined && c.rope_parameters !== null) {
    field = "rope_parameters";
    const rp = c.rope_parameters as Json;
    if (typeof rp !== "object" || Array.isArray(rp)) refuse(field, "must be an object");
    // transformers 5 may key rope parameters by layer type; accept that only when all agree
    if (!("rope_type" in rp) && !("rope_theta" in rp) && Object.values(rp).every((v) => v && typeof v === "object")) {
      const all = Object.values(rp).map((v) => JSON.stringify(v));
      if (new Set(all).size !== 1) refuse(field, `different rope parameters per layer type (${Object.keys(rp).join(", ")}) are not supported`);
      params = Object.values(rp)[0] as Json;
    } else params = rp;
    if (params.rope_theta === undefined && c.rope_theta !== undefined) params = { ...params, rope_theta: c.rope_theta };
  } else {
    field = "rope_scaling";
    const rs = c.rope_scaling;
    if (rs !== undefined && rs !== null && (typeof rs !== "object" || Array.isArray(rs))) refuse(field, "must be an object or null");
    params = { ...((rs as Json | null) ?? {}), rope_theta: c.rope_theta ?? 10000 };
  }
  const typeKey = params.rope_type !== undefined ? "rope_type" : "type";
  const type = params[typeKey] ?? "default";
  const theta = num(params, "rope_theta", 10000);
  if (theta <= 0) refuse(`${field}.rope_theta`, `must be positive, got ${theta}`);
  const prf = params.partial_rotary_factor ?? c.partial_rotary_factor;
  if (prf !== undefined && prf !== null && prf !== 1 && prf !== 1.0) refuse("partial_rotary_factor", `only 1.0 is supported, got ${JSON.stringify(prf)}`);
  const pos = (k: string) => {
    const v = params[k];
    if (typeof v !== "number" || !(v > 0)) refuse(`${field}.${k}`, `must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  switch (type) {
    case "default":
      return { theta, type: "default" };
    case "linear":
      return { theta, type: "linear", factor: pos("factor") };
    case "llama3": {
      const r: RopeConfig = {
        theta,
        type: "llama3",
        factor: pos("factor"),
        lowFreqFactor: pos("low_freq_factor"),
        highFreqFactor: pos("high_freq_factor"),
        originalMaxPositionEmbeddings: pos("original_max_position_embeddings"),
      };
      if (r.highFreqFactor! <= r.lowFreqFactor!) refuse(`${field}.high_freq_factor`, `must exceed low_freq_factor (${r.lowFreqFactor}), got ${r.highFreqFactor}`);
      return r;
    }
    default:
      refuse(`${field}.${typeKey}`, `rope type ${JSON.stringify(type)} is not supported (default, linear, llama3)`);
  }
}

function refuseUnsupported(c: Json): void {
  for (const f of MOE_FIELDS) {
    const v = c[f];
    if (v !== undefined && v !== null && v !== 0) refuse(f, `mixture-of-experts models are not supported (${f} = ${JSON.stringify(v)})`);
  }
  for (const f of MULTIMODAL_FIELDS) {
    if (c[f] !== undefined && c[f] !== null) refuse(f, "vision or multimodal models are not supported");
  }
  const q = c.quantization_config;
  if (q !== undefined && q !== null) refuse("quantization_config", "quantized checkpoints are not supported");
}

/** Parses a config.json (text or parsed) of a llama, mistral, qwen2 or gpt2 checkpoint. */
export function parseHFConfig(json: string | Json): DecoderConfig | HFGpt2Config {
  let c: Json;
  if (typeof json === "string") {
    try {
      c = JSON.parse(json) as Json;
    } catch (e) {
      throw new HFConfigError(`config.json: not valid JSON (${(e as Error).message})`);
    }
  } else c = json;
  if (!c || typeof c !== "object" || Array.isArray(c)) throw new HFConfigError("config.json: must be a JSON object");
  const mt = c.model_type;
  refuseUnsupported(c);
  if (mt === "gpt2") return parseGpt2(c);
  if (mt !== "llama" && mt !== "mistral" && mt !== "qwen2") {
    refuse("model_type", `${JSON.stringify(mt)} is not supported (llama, mistral, qwen2, gpt2)`);
  }
  const hiddenSize = int(c, "hidden_size");
  const nHead = int(c, "num_attention_heads");
  const nKvHead = int(c, "num_key_value_heads", nHead);
  if (nHead % nKvHead !== 0) refuse("num_key_value_heads", `${nKvHead} must divide num_attention_heads ${nHead}`);
  const headDim = c.head_dim === undefined || c.head_dim === null ? hiddenSize / nHead : int(c, "head_dim");
  if (!Number.isInteger(headDim)) refuse("num_attention_heads", `${nHead} must divide hidden_size ${hiddenSize} when head_dim is not given`);
  if (headDim % 2 !== 0) refuse("head_dim", `must be even for rotary embeddings, got ${headDim}`);
  const act = c.hidden_act ?? "silu";
  if (act !== "silu") refuse("hidden_act", `${JSON.stringify(act)} is not supported (silu, for SwiGLU)`);
  if (c.pretraining_tp !== undefined && c.pretraining_tp !== null && c.pretraining_tp !== 1) {
    refuse("pretraining_tp", `only 1 is supported, got ${JSON.stringify(c.pretraining_tp)}`);
  }
  const nLayer = int(c, "num_hidden_layers");
  const layerWindows = windowsOf(c, mt, nLayer);
  const attentionBias = bool(c, "attention_bias", false);
  return {
    modelType: mt,
    vocabSize: int(c, "vocab_size"),
    hiddenSize,
    intermediateSize: int(c, "intermediate_size"),
    nLayer,
    nHead,
    nKvHead,
    headDim,
    maxPositions: int(c, "max_position_embeddings", 2048),
    rmsNormEps: num(c, "rms_norm_eps", 1e-6),
    rope: ropeOf(c),
    tieWordEmbeddings: bool(c, "tie_word_embeddings", false),
    qkvBias: mt === "qwen2" ? true : mt === "llama" ? attentionBias : false,
    oBias: mt === "llama" ? attentionBias : false,
    mlpBias: mt === "llama" ? bool(c, "mlp_bias", false) : false,
    layerWindows,
    dtype: dtypeOf(c),
  };
}

function windowsOf(c: Json, mt: "llama" | "mistral" | "qwen2", nLayer: number): Array<number | null> {
  if (mt === "llama") return Array(nLayer).fill(null);
  const sw = c.sliding_window;
  const window = () => {
    if (typeof sw !== "number" || !Number.isInteger(sw) || sw < 1) refuse("sliding_window", `must be a positive integer, got ${JSON.stringify(sw)}`);
    return sw;
  };
  if (mt === "mistral") return Array(nLayer).fill(sw === undefined || sw === null ? null : window());
  // qwen2: layer_types when written (transformers >= 4.53), else use_sliding_window/max_window_layers
  const useSw = bool(c, "use_sliding_window", false);
  const lt = c.layer_types;
  if (lt !== undefined && lt !== null) {
    if (!Array.isArray(lt) || lt.length !== nLayer) refuse("layer_types", `must list ${nLayer} layer types, got ${JSON.stringify(lt)}`);
    return lt.map((t, i) => {
      if (t === "full_attention") return null;
      if (t === "sliding_attention") return useSw && sw !== null && sw !== undefined ? window() : null;
      refuse(`layer_types[${i}]`, `${JSON.stringify(t)} is not supported (full_attention, sliding_attention)`);
    });
  }
  if (!useSw || sw === null || sw === undefined) return Array(nLayer).fill(null);
  const w = window();
  const mwl = int(c, "max_window_layers", nLayer);
  return Array.from({ length: nLayer }, (_, i) => (i >= mwl ? w : null));
}

function parseGpt2(c: Json): HFGpt2Config {
  const act = c.activation_function ?? "gelu_new";
  if (act !== "gelu_new" && act !== "gelu_pytorch_tanh") refuse("activation_function", `${JSON.stringify(act)} is not supported (gelu_new)`);
  if (c.n_inner !== undefined && c.n_inner !== null) refuse("n_inner", "only the default 4 x n_embd MLP is supported");
  for (const f of ["scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"]) if (c[f] === true) refuse(f, "is not supported");
  if (c.scale_attn_weights === false) refuse("scale_attn_weights", "is not supported");
  if (c.tie_word_embeddings === false) refuse("tie_word_embeddings", "GPT-2 with an untied head is not supported");
  const nEmbd = int(c, "n_embd");
  const nHead = int(c, "n_head");
  if (nEmbd % nHead !== 0) refuse("n_head", `${nHead} must divide n_embd ${nEmbd}`);
  const eps = num(c, "layer_norm_epsilon", 1e-5);
  return { modelType: "gpt2", vocabSize: int(c, "vocab_size"), blockSize: int(c, "n_positions", 1024), nLayer: int(c, "n_layer"), nHead, nEmbd, layerNormEps: eps, dtype: dtypeOf(c) };
}

/** The HF tensor names a decoder checkpoint holds, with shapes [out, in] as torch stores them. */
export function decoderTensorShapes(c: DecoderConfig): Array<[string, number[]]> {
  const { hiddenSize: H, intermediateSize: I, nHead, nKvHead, headDim: D, vocabSize: V } = c;
  const out: Array<[string, number[]]> = [["model.embed_tokens.weight", [V, H]]];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `model.layers.${l}.`;
    out.push([p + "input_layernorm.weight", [H]]);
    out.push([p + "self_attn.q_proj.weight", [nHead * D, H]]);
    if (c.qkvBias) out.push([p + "self_attn.q_proj.bias", [nHead * D]]);
    out.push([p + "self_attn.k_proj.weight", [nKvHead * D, H]]);
    if (c.qkvBias) out.push([p + "self_attn.k_proj.bias", [nKvHead * D]]);
    out.push([p + "self_attn.v_proj.weight", [nKvHead * D, H]]);
    if (c.qkvBias) out.push([p + "self_attn.v_proj.bias", [nKvHead * D]]);
    out.push([p + "self_attn.o_proj.weight", [H, nHead * D]]);
    if (c.oBias) out.push([p + "self_attn.o_proj.bias", [H]]);
    out.push([p + "post_attention_layernorm.weight", [H]]);
    out.push([p + "mlp.gate_proj.weight", [I, H]]);
    if (c.mlpBias) out.push([p + "mlp.gate_proj.bias", [I]]);
    out.push([p + "mlp.up_proj.weight", [I, H]]);
    if (c.mlpBias) out.push([p + "mlp.up_proj.bias", [I]]);
    out.push([p + "mlp.down_proj.weight", [H, I]]);
    if (c.mlpBias) out.push([p + "mlp.down_proj.bias", [H]]);
  }
  out.push(["model.norm.weight", [H]]);
  if (!c.tieWordEmbeddings) out.push(["lm_head.weight", [V, H]]);
  return out;
}
