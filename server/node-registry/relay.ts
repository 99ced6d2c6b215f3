// The /v1 relay between web instances (#26): a completion received by one instance for a GPU node whose
// inference socket another instance holds is posted there (`relayCompletion`), signed with the
// deployment's shared key (server/instances/relay-auth.ts); that instance hands it to its node and streams
// the node's text back as NDJSON lines (`serveRelay`). Hanging up cancels: the client side aborts its
// fetch when its own caller goes away, the serving side sees the connection close and cancels the node's
// generation. An instance that dies mid-answer ends the stream without a last line: an error, never a
// silent truncation.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CompletionOptions, CompletionRequest, CompletionResult } from "@/contracts/serving";
import { z } from "zod";
import type { PrismaClient } from "@/server/db/generated/client";
import { ChatMessageSchema } from "@/gpu/eval/case";
import { RelayAuthError, RelayVerifier, signRelay } from "@/server/instances/relay-auth";
import { assertNotBlocked, CLIENT_ADDRESS_HEADER, recordFailure } from "@/server/auth/rate-limit";
import { RateLimited } from "@/server/errors";

export const RELAY_PATH = "/api/internal/relay/complete";
const MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The node went away or failed before it produced any text: another node may take the request. */
export class NodeUnavailable extends Error {}

export interface RemoteNode {
  nodeId: string;
  relayUrl: string;
}

type RelayLine = { t: "text"; delta: string } | { t: "done"; result: CompletionResult } | { t: "error"; message: string; unavailable: boolean };

const abortError = (signal: AbortSignal) => (signal.reason instanceof Error ? signal.reason : new Error("The request was aborted."));

/** Runs `request` on `target.nodeId` through the instance that holds its socket. */
export async function relayCompletion(fromInstanceId: string, target: RemoteNode, request: CompletionRequest, options: CompletionOptions = {}): Promise<CompletionResult> {
  const body = JSON.stringify({ nodeId: target.nodeId, request });
  const where = `the instance at ${target.relayUrl}`;
  let response: Response;
  try {
    response = await fetch(`${target.relayUrl}${RELAY_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signRelay("POST", RELAY_PATH, body, fromInstanceId) },
      body,
      signal: options.signal,
    });
  } catch (error) {
    if (options.signal?.aborted) throw abortError(options.signal);
    throw new NodeUnavailable(`${where}, which holds the GPU node, could not be reached: ${(error as Error).message}`);
  }
  if (response.status !== 200 || !response.body) {
    const text = (await response.text().catch(() => "")).slice(0, 500);
    if (response.status === 401) console.error(`[hearth] ${where} refused this instance's relay: ${text}`);
    throw new NodeUnavailable(`${where} refused the relay (HTTP ${response.status}): ${text}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let streamed = false;
  const lost = (why: string) =>
    streamed ? new Error(`The GPU node's answer was cut off: ${where}, which relayed it, went away (${why}).`) : new NodeUnavailable(`${where} went away before the GPU node answered (${why}).`);
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch (error) {
      if (options.signal?.aborted) throw abortError(options.signal);
      throw lost((error as Error).message);
    }
    if (chunk.done) throw lost("the stream ended before the answer did");
    buffer += decoder.decode(chunk.value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (!line) continue;
      const message = JSON.parse(line) as RelayLine;
      if (message.t === "text") {
        streamed = true;
        options.onText?.(message.delta);
      } else if (message.t === "done") {
        void reader.cancel().catch(() => {});
        return message.result;
      } else if (message.t === "error") {
        void reader.cancel().catch(() => {});
        throw message.unavailable && !streamed ? new NodeUnavailable(message.message) : new Error(message.message);
      }
    }
  }
}

/** What serveRelay needs of the hub: run a request on one node connected here. */
export interface LocalNodes {
  routeTo(nodeId: string, request: CompletionRequest, options: CompletionOptions): Promise<CompletionResult>;
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** The relayed request's shape: signed by a peer instance, and still checked before use. */
const RelayedCompletion = z.object({
  nodeId: z.string().max(64),
  request: z.object({
    modelVersionId: z.string().max(64),
    orgId: z.string().max(64),
    prompt: z.string().max(1 << 20),
    messages: z.array(ChatMessageSchema).max(1_000).optional(),
    maxTokens: z.number().int().min(0).max(4096),
    temperature: z.number().finite().min(0),
    topK: z.number().int().min(1).optional(),
    seed: z.number().int().optional(),
    stop: z.array(z.string().max(1_000)).max(4),
  }),
});

/**
 * POST /api/internal/relay/complete: a peer instance's request for one of the nodes connected here. A
 * request that fails the signature counts as a wrong token from its address (the limits of
 * server/auth/rate-limit.ts: blocked addresses are answered 429 before their body is read).
 */
export async function serveRelay(db: PrismaClient, nodes: LocalNodes, verifier: RelayVerifier, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refuse = (status: number, message: string, headers: Record<string, string> = {}) => void res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers }).end(message);
  if (req.method !== "POST") return refuse(405, "POST only");
  const address = String(req.headers[CLIENT_ADDRESS_HEADER] ?? "");
  try {
    await assertNotBlocked(db, [["token:address", address]]);
  } catch (error) {
    if (error instanceof RateLimited) return refuse(429, error.message, { "retry-after": String(error.retryAfterSeconds) });
    throw error;
  }
  const body = await readBody(req);
  if (!body) return refuse(413, "relay body too large");
  try {
    verifier.verify("POST", RELAY_PATH, req.headers, body);
  } catch (error) {
    if (!(error instanceof RelayAuthError)) throw error;
    await recordFailure(db, [["token:address", address]]);
    return refuse(401, error.message);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return refuse(400, "not a relayed completion: unreadable JSON");
  }
  const parsed = RelayedCompletion.safeParse(json);
  if (!parsed.success) return refuse(400, `not a relayed completion: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  const relayed = parsed.data;

  // The peer hanging up (its client went away, or it died) cancels the node's generation.
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new Error("the relaying instance hung up"));
  });
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-accel-buffering": "no" });
  res.flushHeaders();
  const line = (message: RelayLine) => res.write(`${JSON.stringify(message)}\n`);
  try {
    const result = await nodes.routeTo(relayed.nodeId, relayed.request, { signal: controller.signal, onText: (delta) => line({ t: "text", delta }) });
    line({ t: "done", result });
  } catch (error) {
    if (controller.signal.aborted) return void res.destroy();
    line({ t: "error", message: (error as Error).message, unavailable: error instanceof NodeUnavailable });
  }
  res.end();
}
