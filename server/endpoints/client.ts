// Calls an OpenAI-compatible endpoint from the server, through the SSRF guard: one completion or
// chat completion, with a per-request timeout and retries with exponential backoff (and jitter)
// on 429, 5xx, timeouts and network errors. Everything else is an error the caller reports.
import type { ChatMessage, Judge } from "@/gpu/eval";
import { guardedFetch, OutboundRequestError, SsrfRefused, type GuardOptions, type GuardedResponse } from "./ssrf";

export interface EndpointTarget {
  /** As given to an OpenAI client, e.g. "https://api.example.com/v1". */
  baseUrl: string;
  model: string;
  apiKey?: string;
  timeoutMs: number;
}

export type EndpointPrompt = { prompt: string } | { messages: ChatMessage[] };

export interface EndpointCall {
  input: EndpointPrompt;
  maxTokens: number;
  temperature: number;
  stop?: string[];
  seed?: number;
}

export interface EndpointReply {
  text: string;
  finishReason: string | null;
  /** As reported by the endpoint; null when it reports no usage. */
  promptTokens: number | null;
  completionTokens: number | null;
  /** Wall time of the request that answered. */
  latencyMs: number;
  attempts: number;
}

export interface RetryPolicy {
  /** Attempts in all, including the first (default 4). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 500, maxDelayMs: 8_000 };

/** A failure the endpoint or the network reported; `retryable` ones were retried already. */
export class EndpointError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** The run cannot go on (refused address, wrong key): no point trying other cases. */
    readonly fatal: boolean,
  ) {
    super(message);
    this.name = "EndpointError";
  }
}

export interface CallOptions {
  signal?: AbortSignal;
  retry?: RetryPolicy;
  guard?: GuardOptions;
}

export function endpointUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/${path}`;
}

function headersFor(target: EndpointTarget): Record<string, string> {
  return {
    "content-type": "application/json",
    accept: "application/json",
    "user-agent": "Hearth endpoint eval",
    ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}),
  };
}

function upstreamMessage(response: GuardedResponse): string {
  try {
    const parsed = JSON.parse(response.body) as { error?: { message?: unknown } | string };
    const message = typeof parsed.error === "string" ? parsed.error : parsed.error?.message;
    if (typeof message === "string") return message.slice(0, 500);
  } catch {
    // not JSON
  }
  return response.body.slice(0, 200) || "(empty body)";
}

function retryAfterMs(response: GuardedResponse): number | null {
  const header = response.headers["retry-after"];
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - Date.now()) : null;
}

function backoffMs(policy: RetryPolicy, attempt: number, hint: number | null): number {
  // Full jitter: spreads retries of many concurrent cases instead of synchronising them.
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.min(policy.maxDelayMs, hint ?? Math.random() * ceiling);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new OutboundRequestError("aborted", "The request was cancelled."));
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }
    function onAbort() {
      clearTimeout(timer);
      reject(new OutboundRequestError("aborted", "The request was cancelled."));
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Sends one JSON request with retries; returns the parsed 2xx body and the answering request's latency. */
export async function requestWithRetries(
  target: EndpointTarget,
  path: string,
  body: unknown,
  options: CallOptions = {},
): Promise<{ json: unknown; latencyMs: number; attempts: number }> {
  const policy = options.retry ?? DEFAULT_RETRY;
  let lastError = "";
  for (let attempt = 1; attempt <= policy.attempts; attempt++) {
    let hint: number | null = null;
    const started = performance.now();
    try {
      const response = await guardedFetch(
        endpointUrl(target.baseUrl, path),
        { method: "POST", headers: headersFor(target), body: JSON.stringify(body), signal: options.signal, timeoutMs: target.timeoutMs },
        options.guard,
      );
      const latencyMs = Math.round(performance.now() - started);
      if (response.status >= 200 && response.status < 300) {
        try {
          return { json: JSON.parse(response.body), latencyMs, attempts: attempt };
        } catch {
          throw new EndpointError(`The endpoint answered ${response.status} with a body that is not JSON: ${response.body.slice(0, 120)}`, response.status, false);
        }
      }
      const message = `HTTP ${response.status}: ${upstreamMessage(response)}`;
      if (response.status !== 429 && response.status < 500) {
        throw new EndpointError(message, response.status, response.status === 401 || response.status === 403 || response.status === 404);
      }
      lastError = message;
      hint = retryAfterMs(response);
    } catch (error) {
      if (error instanceof EndpointError) throw error;
      if (error instanceof SsrfRefused) throw new EndpointError(error.message, null, true);
      if (error instanceof OutboundRequestError) {
        if (error.kind === "aborted") throw error;
        if (error.kind === "redirects" || error.kind === "too-large") throw new EndpointError(error.message, null, false);
        lastError = error.kind === "timeout" ? `no answer within ${target.timeoutMs} ms` : error.message;
      } else throw error;
    }
    if (attempt < policy.attempts) await sleep(backoffMs(policy, attempt, hint), options.signal);
  }
  throw new EndpointError(`Gave up after ${policy.attempts} attempts: ${lastError}`, null, false);
}

function tokenCount(value: unknown): number | null {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : null;
}

/** One completion (`{prompt}`) or chat completion (`{messages}`) from the endpoint. */
export async function callEndpoint(target: EndpointTarget, call: EndpointCall, options: CallOptions = {}): Promise<EndpointReply> {
  const chat = "messages" in call.input;
  const body = {
    model: target.model,
    ...call.input,
    max_tokens: call.maxTokens,
    temperature: call.temperature,
    ...(call.stop?.length ? { stop: call.stop } : {}),
    ...(call.seed !== undefined ? { seed: call.seed } : {}),
  };
  const { json, latencyMs, attempts } = await requestWithRetries(target, chat ? "chat/completions" : "completions", body, options);
  const reply = json as { choices?: { text?: unknown; message?: { content?: unknown }; finish_reason?: unknown }[]; usage?: { prompt_tokens?: unknown; completion_tokens?: unknown } };
  const choice = reply.choices?.[0];
  const text = chat ? choice?.message?.content : choice?.text;
  if (!choice || (typeof text !== "string" && text !== null)) throw new EndpointError("The endpoint's answer has no choices[0] with text.", null, false);
  return {
    text: text ?? "",
    finishReason: typeof choice.finish_reason === "string" ? choice.finish_reason : null,
    promptTokens: tokenCount(reply.usage?.prompt_tokens),
    completionTokens: tokenCount(reply.usage?.completion_tokens),
    latencyMs,
    attempts,
  };
}

/** A judge for rubric graders: the endpoint asked the judge prompt as one user message, at temperature 0. */
export function endpointJudge(target: EndpointTarget, options: CallOptions): Judge {
  return async (prompt) => (await callEndpoint(target, { input: { messages: [{ role: "user", content: prompt }] }, maxTokens: 256, temperature: 0 }, options)).text;
}
