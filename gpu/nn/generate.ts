// Inference on a GPT: greedy or temperature/top-k sampling with a seed, stop sequences, and the
// log-likelihood of a continuation (multiple choice, perplexity). Decoding uses a KV cache; once
// the context window is full it slides, re-running the prompt window for each new token.

import { mulberry32 } from "./config";
import type { GPT } from "./gpt";
import { KVCache } from "./kv-cache";

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy (argmax). Default 1. */
  temperature?: number;
  /** Sample among the k most likely tokens only. */
  topK?: number;
  seed?: number;
  /** Stop after any of these token sequences (included in the output). */
  stopTokens?: number[][];
  /** Use the key/value cache (default true); false re-runs the whole context per token. */
  kvCache?: boolean;
  /** Called per new token; return false to stop. */
  onToken?: (token: number) => boolean | void;
  /**
   * Only ids below this are ever produced: a model's vocabulary can be larger than its tokenizer's
   * (a BPE trained on a small corpus learns fewer merges than the model has rows), and an id the
   * tokenizer does not know cannot be decoded. Default: the model's vocabulary.
   */
  vocabLimit?: number;
}

export interface GenerateResult {
  tokens: number[];
  stopReason: "length" | "stop" | "callback";
}

/** Next-token logits [V] after `context` (cropped to the last blockSize tokens). */
export async function nextTokenLogits(model: GPT, context: number[]): Promise<Float32Array> {
  const rows = await contextLogits(model, context);
  const V = model.config.vocabSize;
  return rows.subarray(rows.length - V);
}

/** Logits [T, V] at every position of `tokens` (at most blockSize of them). */
async function contextLogits(model: GPT, tokens: number[]): Promise<Float32Array> {
  const { ctx, config } = model;
  if (tokens.length === 0) throw new Error("generate: the context must hold at least one token");
  if (tokens.length > config.blockSize) throw new Error(`generate: ${tokens.length} tokens exceed the context of ${config.blockSize}`);
  for (const t of tokens) if (!(Number.isInteger(t) && t >= 0 && t < config.vocabSize)) throw new Error(`generate: token ${t} is outside the vocabulary of ${config.vocabSize}`);
  const x = ctx.tensor(Int32Array.from(tokens), [1, tokens.length], "i32");
  const logits = model.logits(x);
  const [out] = await ctx.readMany([logits]);
  logits.release();
  x.release();
  return out as Float32Array;
}

/** Picks a token from logits: argmax at temperature 0, else a seeded top-k sample. */
export function sampleToken(logits: ArrayLike<number>, rand: () => number, temperature = 1, topK?: number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature <= 0) return best;
  let idx = Array.from({ length: logits.length }, (_, i) => i);
  if (topK && topK < idx.length) idx = idx.sort((a, b) => logits[b] - logits[a] || a - b).slice(0, Math.max(1, topK));
  const mx = logits[best];
  const w = idx.map((i) => Math.exp((logits[i] - mx) / temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let r = rand() * total;
  for (let j = 0; j < idx.length; j++) {
    r -= w[j];
    if (r <= 0) return idx[j];
  }
  return idx[idx.length - 1];
}

export async function generate(model: GPT, prompt: number[], o: GenerateOptions): Promise<GenerateResult> {
  const rand = mulberry32(o.seed ?? 0);
  const all = [...prompt];
  const out: number[] = [];
  const stops = (o.stopTokens ?? []).filter((s) => s.length > 0);
  const window = () => all.slice(-model.config.blockSize);
  // A tuned context picked its matmul kernels on training-sized products; decoding (one row at a
  // time) needs its own choices, or it runs 64-row tiles for one row (7x slower on SwiftShader).
  if (o.kvCache !== false && model.ctx.choices.has("matmul")) await model.tuneDecode();
  const cache = o.kvCache === false ? null : new KVCache(model);
  try {
    for (let i = 0; i < o.maxNewTokens; i++) {
      let logits: Float32Array;
      if (!cache) logits = await nextTokenLogits(model, window());
      else if (i > 0 && cache.remaining() > 0) logits = await cache.step(all[all.length - 1]);
      else {
        if (model.ctx.choices.has("matmul")) await model.tunePrefill(window().length);
        logits = await cache.prefill(window());
      }
      const t = sampleToken(o.vocabLimit && o.vocabLimit < logits.length ? logits.subarray(0, o.vocabLimit) : logits, rand, o.temperature ?? 1, o.topK);
      all.push(t);
      out.push(t);
      if (o.onToken?.(t) === false) return { tokens: out, stopReason: "callback" };
      if (stops.some((s) => s.length <= out.length && s.every((v, j) => out[out.length - s.length + j] === v))) return { tokens: out, stopReason: "stop" };
    }
    return { tokens: out, stopReason: "length" };
  } finally {
    cache?.release();
  }
}

/** Text in, text out; generation ends at (and drops) the first stop string. */
export async function generateText(
  model: GPT,
  tokenizer: { encode(s: string): number[]; decode(ids: number[]): string; vocabSize?: number },
  prompt: string,
  o: Omit<GenerateOptions, "stopTokens" | "onToken"> & { stop?: string[] },
): Promise<{ text: string; tokens: number[]; stopReason: GenerateResult["stopReason"] }> {
  const stops = (o.stop ?? []).filter((s) => s.length > 0);
  const tokens: number[] = [];
  let text = "";
  let cut = -1;
  const res = await generate(model, tokenizer.encode(prompt), {
    vocabLimit: tokenizer.vocabSize,
    ...o,
    onToken: (t) => {
      tokens.push(t);
      text = tokenizer.decode(tokens);
      for (const s of stops) {
        const at = text.indexOf(s);
        if (at >= 0 && (cut < 0 || at < cut)) cut = at;
      }
      return cut < 0;
    },
  });
  return { text: cut >= 0 ? text.slice(0, cut) : text, tokens, stopReason: cut >= 0 ? "stop" : res.stopReason };
}

export interface LogLikelihood {
  /** Sum of log p(continuation token | everything before it). */
  logprob: number;
  tokens: number;
  /** True when every continuation token is the argmax (lm-eval-harness's is_greedy). */
  greedy: boolean;
}

/**
 * log p(continuation | context) in one forward; the context is cropped from the left when the
 * two do not fit in blockSize.
 */
export async function logLikelihood(model: GPT, context: number[], continuation: number[]): Promise<LogLikelihood> {
  if (continuation.length === 0) return { logprob: 0, tokens: 0, greedy: true };
  if (continuation.length >= model.config.blockSize) throw new Error(`logLikelihood: continuation of ${continuation.length} tokens does not fit the context of ${model.config.blockSize}`);
  if (context.length === 0) throw new Error("logLikelihood: needs at least one context token (e.g. an end-of-text token)");
  const seq = [...context, ...continuation].slice(-(model.config.blockSize + 1));
  const input = seq.slice(0, -1);
  const logits = await contextLogits(model, input);
  return continuationLogprob(logits, model.config.vocabSize, input.length - continuation.length, continuation);
}

/**
 * The log-likelihood of `continuation` from logits rows [.., V]: row first + j predicts
 * continuation[j]. Shared by the GPT and the decoder (gpu/nn/text-model.ts).
 */
export function continuationLogprob(logits: Float32Array, V: number, first: number, continuation: number[]): LogLikelihood {
  let logprob = 0;
  let greedy = true;
  for (let j = 0; j < continuation.length; j++) {
    const row = logits.subarray((first + j) * V, (first + j + 1) * V);
    let mx = -Infinity;
    let arg = 0;
    for (let i = 0; i < V; i++) if (row[i] > mx) [mx, arg] = [row[i], i];
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(row[i] - mx);
    logprob += row[continuation[j]] - mx - Math.log(s);
    if (arg !== continuation[j]) greedy = false;
  }
  return { logprob, tokens: continuation.length, greedy };
}
