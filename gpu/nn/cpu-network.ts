// A small decoder folder run on the CPU, in plain TypeScript: the float64 reference forward
// (decoder-reference.ts, the one the GPU decoder and transformers are checked against) behind the
// TextNetwork every engine implements, so the server can evaluate a model a few million parameters
// large without any GPU (the demo project's models; see server/runs/server-eval.ts). Each new token
// runs the whole window again (no key/value cache): cost grows with the square of the length, which is
// why it refuses models past a size bound instead of taking hours.
import { parseHFConfig, type DecoderConfig } from "./hf-config";
import { decoderForwardRef } from "./decoder-reference";
import { continuationLogprob, sampleToken } from "./generate";
import { mulberry32 } from "./config";
import { networkTextModel, TextModelError, type TextModel, type TextNetwork } from "./text-model";
import { loadFolderTokenizer } from "./hf-load";
import { readFolderText, streamHFFolder, type FolderReader } from "../io/hf-folder";
import { toFloat32 } from "../io/safetensors";

/** The default bound on a model the CPU engine takes (parameters). */
export const CPU_MAX_PARAMETERS = 1_000_000;

export function cpuDecoderNetwork(config: DecoderConfig, weights: Map<string, Float32Array>): TextNetwork {
  const n = config.maxPositions;
  const V = config.vocabSize;
  const lastLogits = (ids: number[]) => {
    const logits = decoderForwardRef(config, weights, ids, 1, ids.length);
    return logits.subarray((ids.length - 1) * V, ids.length * V);
  };
  return {
    kind: "decoder",
    contextLength: n,
    async generate(prompt, o) {
      if (prompt.length > n) throw new TextModelError(`the prompt holds ${prompt.length} tokens; the model's context is ${n}`);
      const maxNewTokens = Math.min(o.maxNewTokens, n - prompt.length + 1);
      const rand = mulberry32(o.seed ?? 0);
      const stops = new Set(o.stopTokenIds);
      const ids = [...prompt];
      const out: number[] = [];
      for (let i = 0; i < maxNewTokens; i++) {
        const logits = lastLogits(ids);
        const t = sampleToken(o.vocabLimit && o.vocabLimit < V ? logits.subarray(0, o.vocabLimit) : logits, rand, o.temperature ?? 1, o.topK);
        out.push(t);
        ids.push(t);
        if (o.onToken?.(t) === false) return { tokens: out, stopReason: "callback" };
        if (stops.has(t)) return { tokens: out, stopReason: "stop" };
        // a long generation yields to the event loop between tokens (the server keeps answering)
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return { tokens: out, stopReason: "length" };
    },
    async logLikelihood(context, continuation) {
      if (continuation.length === 0) return { logprob: 0, tokens: 0, greedy: true };
      if (continuation.length >= n) throw new TextModelError(`logLikelihood: a continuation of ${continuation.length} tokens does not fit the context of ${n}`);
      if (context.length === 0) throw new TextModelError("logLikelihood: needs at least one context token");
      const input = [...context, ...continuation].slice(-(n + 1)).slice(0, -1);
      const logits = Float32Array.from(decoderForwardRef(config, weights, input, 1, input.length));
      return continuationLogprob(logits, V, input.length - continuation.length, continuation);
    },
    release: () => weights.clear(),
  };
}

/** A llama, mistral or qwen2 folder (config, weights, tokenizer) as a TextModel run on the CPU; larger models than `maxParameters` are refused before their weights are read. */
export async function loadCpuTextModel(reader: FolderReader, o: { maxParameters?: number } = {}): Promise<TextModel> {
  const text = await readFolderText(reader, "config.json");
  if (text === null) throw new TextModelError("the folder has no config.json");
  const config = parseHFConfig(text);
  if (config.modelType === "gpt2") throw new TextModelError("the CPU engine runs llama, mistral and qwen2 folders, not gpt2");
  const H = config.hiddenSize;
  const kv = config.nKvHead * config.headDim;
  const perLayer = H * config.nHead * config.headDim * 2 + H * kv * 2 + 3 * H * config.intermediateSize;
  const parameters = config.vocabSize * H * (config.tieWordEmbeddings ? 1 : 2) + config.nLayer * perLayer;
  const max = o.maxParameters ?? CPU_MAX_PARAMETERS;
  if (parameters > max) throw new TextModelError(`the model has about ${(parameters / 1e6).toFixed(1)}M parameters; the server's CPU engine takes at most ${(max / 1e6).toFixed(1)}M (run it on a GPU node or in the browser)`);
  const tokenizer = await loadFolderTokenizer(reader);
  const weights = new Map<string, Float32Array>();
  for await (const t of streamHFFolder(reader)) weights.set(t.name, toFloat32(t.name, t));
  return networkTextModel(cpuDecoderNetwork(config, weights), tokenizer);
}
