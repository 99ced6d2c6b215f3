// The exact request that asks Hearth's OpenAI-compatible API for the same answer: the same model
// version, messages and sampling settings (seeded, so a sampled answer repeats too).
import type { ChatMessage } from "@/gpu/eval/case";
import type { SamplingSettings } from "./protocol";

export interface ReproduceTarget {
  projectSlug: string;
  modelName: string;
  version: number;
}

/** The `/v1` model id of one version: `<project slug>/<model name>:v<N>`. */
export const servedModelId = (t: ReproduceTarget) => `${t.projectSlug}/${t.modelName}:v${t.version}`;

export function chatCompletionBody(target: ReproduceTarget, messages: ChatMessage[], s: SamplingSettings) {
  return {
    model: servedModelId(target),
    messages,
    temperature: s.temperature,
    ...(s.topK > 0 ? { top_k: s.topK } : {}),
    max_tokens: s.maxTokens,
    seed: s.seed,
  };
}

/** A shell command (single-quoted JSON, quotes inside escaped) that sends the body with an API key. */
export function curlCommand(origin: string, body: object): string {
  const json = JSON.stringify(body, null, 2).replace(/'/g, `'\\''`);
  return `curl -H "Authorization: Bearer $HEARTH_API_KEY" -H "content-type: application/json" \\\n  ${origin}/v1/chat/completions -d '${json}'`;
}
