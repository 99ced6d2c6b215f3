// The MCP endpoint at /mcp: streamable HTTP, stateless (any instance answers any request), served by the
// custom server before Next (server/main.ts). Authenticated by a Hearth API key (Bearer); a browser's
// Origin must be one of Hearth's own (DNS rebinding); tool calls are limited per key.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { PrismaClient } from "@/server/db/generated/client";
import { authenticateApiKey } from "@/server/apikeys/service";
import { addressOfSocket, CLIENT_ADDRESS_HEADER } from "@/server/auth/rate-limit";
import { allowedOriginsFromEnvironment } from "@/server/auth/origins";
import { jsonTooDeep, TOO_DEEP_MESSAGE } from "@/server/http/json-depth";
import { RateLimited } from "@/server/errors";
import { auditToolCall, buildMcpServer, toolsForKey, type KeyActor } from "./server";
import { toolCallWait } from "./limits";

export const MCP_PATH = "/mcp";
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** A client may name its session so the audit log shows its calls as one thread (the stdio proxy does). */
export const AGENT_SESSION_HEADER = "x-hearth-agent-session";
const VERSION = "1";

export function isMcpPath(pathname: string): boolean {
  return pathname === MCP_PATH;
}

/** A JSON-RPC error answer outside any request (the MCP SDK's clients show its message). */
function sendError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code: status === 429 ? -32029 : -32001, message }, id: null });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

type JsonRpcMessage = { method?: unknown; params?: { name?: unknown; arguments?: unknown } };

export async function serveMcp(req: IncomingMessage, res: ServerResponse, options: { db: PrismaClient }): Promise<void> {
  const { db } = options;
  // A page on another site (or a rebound DNS name) must not drive a local agent's session.
  const origin = req.headers.origin;
  if (origin !== undefined && !allowedOriginsFromEnvironment().has(origin)) return sendError(res, 403, `Requests from ${origin} are not allowed (HEARTH_ALLOWED_ORIGINS).`);
  if (req.method !== "POST") {
    // Stateless: no server-initiated stream (GET) and no session to end (DELETE).
    return sendError(res, 405, "This MCP server is stateless: send JSON-RPC requests with POST.", { allow: "POST" });
  }
  const stamped = req.headers[CLIENT_ADDRESS_HEADER];
  const address = typeof stamped === "string" && stamped ? stamped : addressOfSocket(req.socket.remoteAddress, undefined);
  const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  if (!match) return sendError(res, 401, "Send a Hearth API key as `Authorization: Bearer hth_...`.", { "www-authenticate": 'Bearer realm="hearth"' });
  let actor: KeyActor;
  try {
    const found = await authenticateApiKey(db, match[1], address);
    if (!found || found.type !== "apiKey") return sendError(res, 401, "Unknown, revoked or expired API key.", { "www-authenticate": 'Bearer realm="hearth"' });
    actor = found;
  } catch (error) {
    if (error instanceof RateLimited) return sendError(res, 429, error.message, { "retry-after": String(error.retryAfterSeconds) });
    throw error;
  }

  const text = await readBody(req);
  if (text === null) return sendError(res, 413, `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
  if (jsonTooDeep(text)) return sendError(res, 400, TOO_DEEP_MESSAGE);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return sendError(res, 400, "The request body is not JSON.");
  }

  const messages = (Array.isArray(body) ? body : [body]) as JsonRpcMessage[];
  const toolCalls = messages.filter((m) => m && m.method === "tools/call");
  const counted = messages.some((m) => m && (m.method === "tools/call" || m.method === "resources/read"));
  const rawThread = req.headers[AGENT_SESSION_HEADER];
  const thread = typeof rawThread === "string" && /^[\w.:-]{1,100}$/.test(rawThread) ? rawThread : null;
  if (counted) {
    const wait = await toolCallWait(db, actor.keyId);
    if (wait) return sendError(res, 429, `This key has made too many tool calls (HEARTH_MCP_RATE_LIMIT); try again in ${wait} seconds.`, { "retry-after": String(wait) });
  }
  if (toolCalls.length) {
    // The SDK answers calls of tools this key cannot see (approve, delete, ...) as unknown tools and calls
    // with invalid arguments before any tool runs; both are audited here, so every call leaves an entry.
    const visible = new Map(toolsForKey(actor).map((tool) => [tool.name, tool]));
    for (const call of toolCalls) {
      const name = (typeof call.params?.name === "string" ? call.params.name : String(call.params?.name)).slice(0, 100);
      const tool = visible.get(name);
      const audit = (outcome: "refused" | "error", detail: string) => auditToolCall({ db, actor, tool: name, args: call.params?.arguments, outcome, detail, thread, requestId: `mcp-${randomUUID()}` });
      if (!tool) await audit("refused", "no such tool for this key");
      else if (!z.object(tool.input).safeParse(call.params?.arguments ?? {}).success) await audit("error", "invalid arguments");
    }
  }

  const server = buildMcpServer({ db, actor, thread, address, version: VERSION });
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
