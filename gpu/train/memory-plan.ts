// What a training step of a Hugging Face decoder holds in GPU memory, computed before the job starts:
// weights (16-bit kept 16-bit under LoRA, f32 master weights for full fine-tuning), gradients and
// the two AdamW moments of what trains, the activations kept for backward (all of them, or only each
// block's input with activation recomputation), the logits and their gradient, and the largest
// working set a block's backward adds; plus the key/value cache generation needs. Buffers are
// counted as the engine's pool hands them out (sizeClass), so the plan can be held to what a job
// then allocates (runDecoderTrainJob measures the pool's peak).

import type { DecoderConfig } from "../nn/hf-config";
import type { LoraModule } from "../nn/decoder";
import { sizeClass } from "../tensor";

export interface DecoderPlanOptions {
  kind: "PRETRAIN" | "SFT" | "LORA";
  batchSize: number;
  seqLen: number;
  gradAccum?: number;
  lora?: { r: number; targets: readonly LoraModule[]; dropout?: number };
  /** Keep only block inputs and recompute the rest in backward. */
  recompute?: boolean;
  /** Bytes per element of the checkpoint's 2-D weights (2 for bf16/f16, 4 for f32). */
  sourceBytes?: 2 | 4;
  /** Validation batches held for the whole run (0 when the job validates nothing). */
  valBatches?: number;
  /** Generation after training (eval, serving): the KV cache for this many tokens. */
  generateTokens?: number;
}

export interface DecoderMemoryPlan {
  parameters: number;
  trainableParameters: number;
  weights: number;
  gradients: number;
  optimizer: number;
  activations: number;
  /** Logits, their gradient and the per-token losses of one micro-batch. */
  logits: number;
  /** The largest extra a block's backward (or the attention's forward) holds at once. */
  workingSet: number;
  /** Batches, targets, rotary tables. */
  other: number;
  /** Peak of a training step: the sum of the above. */
  total: number;
  /** The key/value cache of generateTokens positions (f32), for inference after training. */
  kvCache: number;
  /** The largest single buffer (to compare with the adapter's maxStorageBufferBindingSize). */
  largestBuffer: number;
  tokensPerStep: number;
  flopsPerStep: number;
}

const MLP: readonly LoraModule[] = ["gate_proj", "up_proj", "down_proj"];

export function planDecoderTraining(c: DecoderConfig, o: DecoderPlanOptions): DecoderMemoryPlan {
  const B = o.batchSize;
  const T = o.seqLen;
  const N = B * T;
  const H = c.hiddenSize;
  const I = c.intermediateSize;
  const V = c.vocabSize;
  const qd = c.nHead * c.headDim;
  const kvd = c.nKvHead * c.headDim;
  const L = c.nLayer;
  const f32 = (n: number) => sizeClass(4 * n);
  let largest = 0;
  const buf = (n: number) => {
    largest = Math.max(largest, 4 * n);
    return f32(n);
  };

  // ---- parameters: [name, out, in] of every projection, norms, embeddings
  const proj: Array<[LoraModule, number, number]> = [
    ["q_proj", qd, H],
    ["k_proj", kvd, H],
    ["v_proj", kvd, H],
    ["o_proj", H, qd],
    ["gate_proj", I, H],
    ["up_proj", I, H],
    ["down_proj", H, I],
  ];
  const lora = o.kind === "LORA" ? o.lora : undefined;
  const sixteen = lora && (o.sourceBytes ?? 2) === 2;
  const matrix = (rows: number, cols: number) => (sixteen ? sizeClass(4 * Math.max(1, Math.ceil((rows * cols) / 2))) : buf(rows * cols));
  let weights = 0;
  let parameters = 0;
  let trainable = 0;
  let trainableBytes = 0;
  const biases = (name: LoraModule) => (c.qkvBias && ["q_proj", "k_proj", "v_proj"].includes(name)) || (c.oBias && name === "o_proj") || (c.mlpBias && MLP.includes(name));
  for (let l = 0; l < L; l++) {
    for (const [name, out, inp] of proj) {
      weights += matrix(out, inp);
      parameters += out * inp;
      if (biases(name)) {
        weights += f32(out);
        parameters += out;
        if (!lora) (trainable += out), (trainableBytes += f32(out));
      }
      if (!lora) (trainable += out * inp), (trainableBytes += f32(out * inp));
      else if (lora.targets.includes(name)) {
        const a = lora.r * inp;
        const b2 = out * lora.r;
        weights += f32(a) + f32(b2);
        trainable += a + b2;
        trainableBytes += f32(a) + f32(b2);
      }
    }
    weights += 2 * f32(H);
    parameters += 2 * H;
    if (!lora) (trainable += 2 * H), (trainableBytes += 2 * f32(H));
  }
  weights += matrix(V, H) + f32(H);
  parameters += V * H + H;
  if (!c.tieWordEmbeddings) {
    weights += matrix(V, H);
    parameters += V * H;
  }
  if (!lora) {
    const embeds = (c.tieWordEmbeddings ? 1 : 2) * V * H;
    trainable += embeds + H;
    trainableBytes += (c.tieWordEmbeddings ? 1 : 2) * f32(V * H) + f32(H);
  }
  const gradients = trainableBytes;
  const optimizer = 2 * trainableBytes;

  // ---- activations one block keeps for backward ("all" mode)
  const loraSaved = lora ? lora.targets.reduce((s, t) => s + f32(N * lora.r) + (lora.dropout ? f32(N * (t === "down_proj" ? I : t === "o_proj" ? qd : H)) : 0), 0) : 0;
  const probs = buf(B * c.nHead * T * T);
  const block =
    f32(N * H) + f32(N) + // n1
    f32(N * qd) + 2 * f32(N * kvd) + // q, k (after rope), v
    f32(N * qd) + 2 * f32(N * kvd) + probs + // attention's saved heads and probabilities
    f32(N * qd) + f32(N * H) + // att.out, x1
    f32(N * H) + f32(N) + // n2
    3 * buf(N * I) + // gate, up, act
    f32(N * H) + // out
    loraSaved;
  const activations = f32(N * H) + (o.recompute ? L * f32(N * H) + block : L * block) + f32(N * H) + f32(N);
  const logits = 2 * buf(N * V) + f32(N);
  // backward of one block: dact, dgate, dup, the attention's dprobs/dscores and head gradients, dn/dx streams
  const attnBack = 2 * probs + 3 * f32(N * qd) + 2 * f32(N * kvd);
  const mlpBack = 3 * f32(N * I) + 2 * f32(N * H);
  const workingSet = Math.max(attnBack, mlpBack) + 2 * f32(N * H) + (lora ? f32(N * I) : 0);
  const rope = 2 * f32(Math.min(c.maxPositions, Math.max(256, T)) * (c.headDim / 2));
  const batches = (o.gradAccum ?? 1) * 2 * sizeClass(4 * N) + (o.valBatches ?? 0) * 2 * sizeClass(4 * N);
  const other = rope + batches + f32(1);
  const total = weights + gradients + optimizer + activations + logits + workingSet + other;
  const kvCache = 2 * L * f32((o.generateTokens ?? 0) * kvd);
  const tokensPerStep = N * (o.gradAccum ?? 1);
  // 6 N P for what trains through, 2 N P for the frozen base's forward and its input gradient, attention's T^2 terms
  const attnFlops = 12 * L * T * qd;
  const flopsPerStep = tokensPerStep * ((lora ? 4 : 6) * parameters + attnFlops) * (o.recompute ? 4 / 3 : 1);
  return { parameters, trainableParameters: trainable, weights, gradients, optimizer, activations, logits, workingSet, other, total, kvCache, largestBuffer: largest, tokensPerStep, flopsPerStep };
}

/** Decoder shapes of well-known open-weight models, for presets and plans before a folder is imported. */
export const DECODER_SHAPES = {
  /** A llama small enough to pre-train on a CPU-emulated adapter in seconds (tests, first steps). */
  "llama-tiny": {
    label: "tiny llama (about 0.4M parameters with a 4k vocabulary)",
    architecture: "LlamaForCausalLM",
    config: { model_type: "llama", vocab_size: 4097, hidden_size: 64, intermediate_size: 176, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 16, max_position_embeddings: 512, rms_norm_eps: 1e-5, rope_theta: 10000, tie_word_embeddings: true, torch_dtype: "float32" },
  },
  "smollm2-135m": {
    label: "SmolLM2-135M",
    architecture: "LlamaForCausalLM",
    config: { model_type: "llama", vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3, head_dim: 64, max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: true, torch_dtype: "bfloat16" },
  },
  "qwen2.5-0.5b": {
    label: "Qwen2.5-0.5B",
    architecture: "Qwen2ForCausalLM",
    config: { model_type: "qwen2", vocab_size: 151936, hidden_size: 896, intermediate_size: 4864, num_hidden_layers: 24, num_attention_heads: 14, num_key_value_heads: 2, max_position_embeddings: 32768, rms_norm_eps: 1e-6, rope_theta: 1000000, tie_word_embeddings: true, torch_dtype: "bfloat16", use_sliding_window: false },
  },
} as const;
export type DecoderShapeName = keyof typeof DECODER_SHAPES;
