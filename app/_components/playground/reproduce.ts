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

/** A shell command (single-quoted JSON, quotes inside escaped) that posts the body with the key in `keyVariable`. */
function curl(url: string, keyVariable: string, body: object): string {
  const json = JSON.stringify(body, null, 2).replace(/'/g, `'\\''`);
  return `curl -H "Authorization: Bearer $${keyVariable}" -H "content-type: application/json" \\\n  ${url} -d '${json}'`;
}

/** The request to this Hearth's /v1 (an API key with the models:invoke scope in $HEARTH_API_KEY). */
export const curlCommand = (origin: string, body: object) => curl(`${origin}/v1/chat/completions`, "HEARTH_API_KEY", body);

/** The same turn as an endpoint receives it from Hearth (OpenAI's chat API has no top_k). */
export function endpointChatBody(model: string, messages: ChatMessage[], s: SamplingSettings) {
  return { model, messages, temperature: s.temperature, max_tokens: s.maxTokens, seed: s.seed };
}

/** The request straight to an endpoint (its own key in $ENDPOINT_API_KEY). */
export const endpointCurlCommand = (baseUrl: string, body: object) => curl(`${baseUrl.replace(/\/$/, "")}/chat/completions`, "ENDPOINT_API_KEY", body);
