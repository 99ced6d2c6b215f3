// Messages on the inference socket between the server and a node (/api/node/socket, JSON frames).
// The server pushes completion requests; the node streams text back. Shared by both sides.
import type { CompletionRequest, CompletionResult } from "@/server/serving/contract";

export const NODE_SOCKET_PATH = "/api/node/socket";

export type ServerToNode =
  | { type: "complete"; id: string; request: CompletionRequest }
  | { type: "cancel"; id: string };

export type NodeToServer =
  /** The model versions the node holds in memory (sent on connect and whenever it changes). */
  | { type: "models"; loaded: string[] }
  | { type: "text"; id: string; delta: string }
  | { type: "done"; id: string; result: CompletionResult }
  /** `beforeOutput`: nothing was streamed yet, so another node may take the request. */
  | { type: "error"; id: string; message: string; beforeOutput: boolean };
