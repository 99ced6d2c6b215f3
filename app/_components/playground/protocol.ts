// The playground worker's messages: load one model version's artifact once, then answer chats with it.
import type { ChatMessage } from "@/gpu/eval/case";

export interface SamplingSettings {
  /** 0 = greedy. */
  temperature: number;
  /** 0 = no top-k cut. */
  topK: number;
  maxTokens: number;
  seed: number;
}

export type PlaygroundWorkerRequest = { type: "load"; model: Uint8Array } | { type: "chat"; id: number; messages: ChatMessage[]; sampling: SamplingSettings };

export type PlaygroundWorkerEvent =
  | { type: "loaded"; adapter: string }
  | { type: "answer"; id: number; text: string; ms: number }
  | { type: "error"; id?: number; message: string };
