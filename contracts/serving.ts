// The seam between the OpenAI-compatible serving API (server/serving) and the GPU nodes that run the
// model (server/node-registry). The web process never runs a model itself: it hands a request to a node that
// holds the model version (or asks one to load it) and relays what the node streams back.
import type { ChatMessage } from "@/gpu/eval/case";

export interface CompletionRequest {
  /** The model version to run; the caller has already checked it belongs to the caller's project. */
  modelVersionId: string;
  orgId: string;
  /**
   * /completions: the raw prompt text. Chat: the conversation in Hearth's plain format (what a model
   * without a chat template sees); the node renders `messages` itself.
   */
  prompt: string;
  /**
   * Chat requests: the conversation, which the node renders with the model's chat template (the
   * plain format when it has none) and ends at the model's stop tokens and the format's turn stops.
   */
  messages?: ChatMessage[];
  maxTokens: number;
  /** 0 means greedy. */
  temperature: number;
  topK?: number;
  seed?: number;
  stop: string[];
}

export interface CompletionResult {
  text: string;
  /** Tokens of the prompt as the model saw it (a chat after its template). */
  promptTokens: number;
  /** Tokens the model generated, a stop token that ended the reply included. */
  completionTokens: number;
  finishReason: "stop" | "length";
}

export interface CompletionOptions {
  signal?: AbortSignal;
  /** Called with each new piece of text as the node produces it (for streaming responses). */
  onText?: (delta: string) => void;
}

/** Implemented by server/node-registry; throws NoNodeAvailable when no online node can serve the model. */
export type RouteCompletion = (request: CompletionRequest, options?: CompletionOptions) => Promise<CompletionResult>;

export class NoNodeAvailable extends Error {
  constructor(message = "no GPU node is online to serve this model") {
    super(message);
    this.name = "NoNodeAvailable";
  }
}
