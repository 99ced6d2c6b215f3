// The seam between the OpenAI-compatible serving API (server/serving) and the GPU nodes that run the
// model (server/node-registry). The web process never runs a model itself: it hands a request to a node that
// holds the model version (or asks one to load it) and relays what the node streams back.

export interface CompletionRequest {
  /** The model version to run; the caller has already checked it belongs to the caller's project. */
  modelVersionId: string;
  orgId: string;
  /** Plain text prompt; chat requests are rendered to text by the serving API before they get here. */
  prompt: string;
  maxTokens: number;
  /** 0 means greedy. */
  temperature: number;
  topK?: number;
  seed?: number;
  stop: string[];
}

export interface CompletionResult {
  text: string;
  promptTokens: number;
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
