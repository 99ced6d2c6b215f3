// The OpenAI wire format, as much of it as Hearth's models can honour: request schemas (validated
// at the edge, with OpenAI's error shape), chat messages for the node, and response and stream-chunk bodies.
// Parameters Hearth cannot honour are refused by name rather than silently ignored.
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { promptOf } from "@/gpu/eval/runner";
import type { ChatMessage } from "@/gpu/eval/case";
import { PLAIN_CHAT_STOPS } from "@/gpu/nn/text-model";
import type { CompletionRequest, CompletionResult } from "@/contracts/serving";

export const MAX_TOKENS_LIMIT = 4_096;
export const DEFAULT_COMPLETION_MAX_TOKENS = 16; // OpenAI's default for /completions
export const DEFAULT_CHAT_MAX_TOKENS = 256;
const MAX_PROMPT_CHARS = 200_000;

export interface OpenAiError {
  status: number;
  type: "invalid_request_error" | "authentication_error" | "permission_error" | "not_found_error" | "rate_limit_error" | "server_error";
  code: string | null;
  param: string | null;
  message: string;
}

export function openAiError(status: number, type: OpenAiError["type"], message: string, code: string | null = null, param: string | null = null): OpenAiError {
  return { status, type, code, param, message };
}

export function errorBody(e: OpenAiError) {
  return { error: { message: e.message, type: e.type, param: e.param, code: e.code } };
}

const stop = z.union([z.string().min(1).max(200), z.array(z.string().min(1).max(200)).max(4)]).nullish();

/** Sampling parameters shared by both endpoints; OpenAI's defaults where Hearth has them. */
const sampling = {
  model: z.string().min(1, "is required").max(300),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Not in OpenAI's API, common in compatible servers: sample among the k most likely tokens. */
  top_k: z.number().int().min(1).max(100_000).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  stop,
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  user: z.string().max(256).nullish(),
};

export const CompletionBody = z.object({
  ...sampling,
  prompt: z.union([z.string().max(MAX_PROMPT_CHARS), z.array(z.string().max(MAX_PROMPT_CHARS)).length(1, "must hold exactly one prompt (batches are not supported)")]),
  max_tokens: z.number().int().min(1).max(MAX_TOKENS_LIMIT).nullish(),
  echo: z.boolean().nullish(),
  logprobs: z.number().int().nullish(),
  best_of: z.number().int().nullish(),
  suffix: z.string().nullish(),
});
export type CompletionBody = z.infer<typeof CompletionBody>;

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const ChatMessageBody = z.object({
  role: z.enum(["system", "developer", "user", "assistant"]),
  content: z.union([z.string(), z.array(textPart)]).nullish(),
  name: z.string().max(64).optional(),
});

export const ChatBody = z.object({
  ...sampling,
  messages: z.array(ChatMessageBody).min(1, "must hold at least one message").max(1_000),
  max_tokens: z.number().int().min(1).max(MAX_TOKENS_LIMIT).nullish(),
  max_completion_tokens: z.number().int().min(1).max(MAX_TOKENS_LIMIT).nullish(),
  logprobs: z.boolean().nullish(),
  tools: z.array(z.unknown()).nullish(),
  functions: z.array(z.unknown()).nullish(),
  response_format: z.object({ type: z.string() }).passthrough().nullish(),
});
export type ChatBody = z.infer<typeof ChatBody>;

/** The first zod problem, as OpenAI reports one: a message and the parameter it is about. */
export function invalidBody(error: z.ZodError): OpenAiError {
  const issue = error.issues[0];
  const param = issue.path.map(String).join(".") || null;
  return openAiError(400, "invalid_request_error", `Invalid value for ${param ?? "the request body"}: ${issue.message}`, "invalid_value", param);
}

function unsupported(param: string, message: string): OpenAiError {
  return openAiError(400, "invalid_request_error", `${param}: ${message}`, "unsupported_parameter", param);
}

/** Parameters that would change the answer in ways Hearth's models do not support. */
function checkSampling(body: CompletionBody | ChatBody): OpenAiError | null {
  if ((body.n ?? 1) !== 1) return unsupported("n", "only one choice per request is supported.");
  if (body.top_p != null && body.top_p !== 1) return unsupported("top_p", "nucleus sampling is not supported; use temperature and top_k.");
  if (body.presence_penalty) return unsupported("presence_penalty", "is not supported.");
  if (body.frequency_penalty) return unsupported("frequency_penalty", "is not supported.");
  if (body.logit_bias && Object.keys(body.logit_bias).length) return unsupported("logit_bias", "is not supported.");
  return null;
}

function stops(value: CompletionBody["stop"]): string[] {
  return value == null ? [] : typeof value === "string" ? [value] : value;
}

/** The generation a completion body asks for, minus the model version (resolved by the caller). */
export function completionRequestOf(body: CompletionBody): Omit<CompletionRequest, "modelVersionId" | "orgId"> | OpenAiError {
  const refused = checkSampling(body);
  if (refused) return refused;
  if (body.echo) return unsupported("echo", "is not supported.");
  if (body.logprobs != null) return unsupported("logprobs", "is not supported.");
  if ((body.best_of ?? 1) !== 1) return unsupported("best_of", "is not supported.");
  if (body.suffix) return unsupported("suffix", "is not supported.");
  return {
    prompt: typeof body.prompt === "string" ? body.prompt : body.prompt[0],
    maxTokens: body.max_tokens ?? DEFAULT_COMPLETION_MAX_TOKENS,
    temperature: body.temperature ?? 1,
    ...(body.top_k != null ? { topK: body.top_k } : {}),
    ...(body.seed != null ? { seed: body.seed } : {}),
    stop: stops(body.stop),
  };
}

/**
 * Chat (documented in server/serving/README.md): the node renders the messages with the model's chat
 * template and ends the reply at its stop tokens. A model without a template (a Hearth GPT) gets the
 * plain format: one line per message, `role: content`, then `assistant:` where the reply starts, the
 * reply ending where the model starts a new user or system turn. It is what the eval runner does for
 * chat cases, so a served model sees what it was evaluated on. "developer" counts as "system".
 */
export const CHAT_TURN_STOPS: string[] = [...PLAIN_CHAT_STOPS];

export function chatMessages(messages: ChatBody["messages"]): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role === "developer" ? "system" : m.role,
    content: typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join(""),
  }));
}

export function chatRequestOf(body: ChatBody): Omit<CompletionRequest, "modelVersionId" | "orgId"> | OpenAiError {
  const refused = checkSampling(body);
  if (refused) return refused;
  if (body.tools?.length || body.functions?.length) return unsupported(body.tools?.length ? "tools" : "functions", "tool calling is not supported.");
  if (body.logprobs) return unsupported("logprobs", "is not supported.");
  if (body.response_format && body.response_format.type !== "text") return unsupported("response_format", `only {"type": "text"} is supported.`);
  const messages = chatMessages(body.messages);
  const prompt = promptOf(messages);
  if (prompt.length > MAX_PROMPT_CHARS) return openAiError(400, "invalid_request_error", `messages: the conversation is longer than ${MAX_PROMPT_CHARS} characters.`, "invalid_value", "messages");
  return {
    prompt,
    messages,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_CHAT_MAX_TOKENS,
    temperature: body.temperature ?? 1,
    ...(body.top_k != null ? { topK: body.top_k } : {}),
    ...(body.seed != null ? { seed: body.seed } : {}),
    // the chat format's own stops (turn starts, stop tokens) are the node's: it knows the model
    stop: stops(body.stop),
  };
}

// ---------------------------------------------------------------------------------------------
// Responses

export function responseId(kind: "completion" | "chat"): string {
  return `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("base64url")}`;
}

export function usageOf(result: Pick<CompletionResult, "promptTokens" | "completionTokens">) {
  return { prompt_tokens: result.promptTokens, completion_tokens: result.completionTokens, total_tokens: result.promptTokens + result.completionTokens };
}

export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

export function completionResponse(meta: ResponseMeta, result: CompletionResult) {
  return {
    ...meta,
    object: "text_completion",
    choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: result.finishReason }],
    usage: usageOf(result),
  };
}

export function chatResponse(meta: ResponseMeta, result: CompletionResult) {
  return {
    ...meta,
    object: "chat.completion",
    system_fingerprint: null,
    choices: [{ index: 0, message: { role: "assistant", content: result.text, refusal: null }, logprobs: null, finish_reason: result.finishReason }],
    usage: usageOf(result),
  };
}

/** A streamed piece: `delta` text, or (with `finish`) the last chunk. */
export function streamChunk(kind: "completion" | "chat", meta: ResponseMeta, piece: { delta?: string; role?: boolean; finish?: CompletionResult["finishReason"] }) {
  const finish = piece.finish ?? null;
  if (kind === "completion") return { ...meta, object: "text_completion", choices: [{ index: 0, text: piece.delta ?? "", logprobs: null, finish_reason: finish }] };
  const delta = piece.finish ? {} : { ...(piece.role ? { role: "assistant" } : {}), content: piece.delta ?? "" };
  return { ...meta, object: "chat.completion.chunk", system_fingerprint: null, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] };
}

/** With stream_options.include_usage: a last chunk with no choices and the usage. */
export function usageChunk(kind: "completion" | "chat", meta: ResponseMeta, result: CompletionResult) {
  return { ...meta, object: kind === "chat" ? "chat.completion.chunk" : "text_completion", choices: [], usage: usageOf(result) };
}
