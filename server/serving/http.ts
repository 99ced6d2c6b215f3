// The OpenAI-compatible API at /v1, served by the custom server before Next (server/main.ts), so a
// streamed answer goes to the socket as each piece arrives and a client that hangs up stops the node
// at once. Authenticated by API keys with the models:invoke scope (Bearer); see README.md here.
import { jsonTooDeep, TOO_DEEP_MESSAGE } from "@/server/http/json-depth";
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrismaClient } from "@/server/db/generated/client";
import { authenticateApiKey } from "@/server/apikeys/service";
import { addressOfSocket, CLIENT_ADDRESS_HEADER } from "@/server/auth/rate-limit";
import { RateLimited } from "@/server/errors";
import type { Actor } from "@/contracts/actor";
import { NoNodeAvailable, type CompletionRequest, type CompletionResult, type RouteCompletion } from "@/contracts/serving";
import { listServableModels, resolveModel, type ServableModel } from "./models";
import { logServedRequest } from "./request-log";
import {
  ChatBody,
  chatMessages,
  chatRequestOf,
  chatResponse,
  CompletionBody,
  completionRequestOf,
  completionResponse,
  errorBody,
  invalidBody,
  openAiError,
  responseId,
  streamChunk,
  usageChunk,
  type OpenAiError,
  type ResponseMeta,
} from "./openai";

export const SERVING_PREFIX = "/v1";
const MAX_BODY_BYTES = 1024 * 1024;
const SCOPE = "models:invoke";

export interface ServingOptions {
  db: PrismaClient;
  routeCompletion: RouteCompletion;
}

export function isServingPath(pathname: string): boolean {
  return pathname === SERVING_PREFIX || pathname.startsWith(`${SERVING_PREFIX}/`);
}

class Refusal extends Error {
  constructor(readonly error: OpenAiError) {
    super(error.message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, error: OpenAiError): void {
  if (error.status === 401) res.setHeader("www-authenticate", 'Bearer realm="hearth"');
  sendJson(res, error.status, errorBody(error));
}

async function authenticate(db: PrismaClient, req: IncomingMessage): Promise<Extract<Actor, { type: "apiKey" }>> {
  const header = req.headers.authorization;
  if (!header) throw new Refusal(openAiError(401, "authentication_error", "No API key was sent. Send a Hearth API key as `Authorization: Bearer hth_...`.", "missing_api_key"));
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const stamped = req.headers[CLIENT_ADDRESS_HEADER];
  const address = typeof stamped === "string" && stamped ? stamped : addressOfSocket(req.socket.remoteAddress, undefined);
  const actor = match ? await authenticateApiKey(db, match[1], address) : null;
  if (!actor || actor.type !== "apiKey") throw new Refusal(openAiError(401, "authentication_error", "Incorrect API key provided (unknown, revoked or expired).", "invalid_api_key"));
  if (!actor.scopes.includes(SCOPE)) throw new Refusal(openAiError(403, "permission_error", `This API key lacks the "${SCOPE}" scope.`, "insufficient_scope"));
  return actor;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new Refusal(openAiError(413, "invalid_request_error", `The request body is larger than ${MAX_BODY_BYTES} bytes.`, "request_too_large"));
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (jsonTooDeep(text)) throw new Refusal(openAiError(400, "invalid_request_error", TOO_DEEP_MESSAGE, "invalid_json"));
  try {
    return JSON.parse(text);
  } catch {
    throw new Refusal(openAiError(400, "invalid_request_error", "The request body is not valid JSON.", "invalid_json"));
  }
}

/** Serves one request under /v1. Never throws: every failure becomes an OpenAI-shaped error. */
export async function serveOpenAiApi(req: IncomingMessage, res: ServerResponse, options: ServingOptions): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const path = url.pathname.slice(SERVING_PREFIX.length).replace(/\/+$/, "");
  try {
    const actor = await authenticate(options.db, req);
    if (req.method === "GET" && path === "/models") {
      const models = await listServableModels(options.db, actor);
      return sendJson(res, 200, { object: "list", data: models.map((m) => ({ id: m.id, object: "model", created: Math.floor(m.created.getTime() / 1000), owned_by: m.projectSlug })) });
    }
    if (req.method === "GET" && path.startsWith("/models/")) {
      const id = decodeURIComponent(path.slice("/models/".length));
      const model = await resolveModel(options.db, actor, id);
      if (!model) throw new Refusal(modelNotFound(id));
      return sendJson(res, 200, { id: model.id, object: "model", created: Math.floor(model.created.getTime() / 1000), owned_by: model.projectSlug });
    }
    if (req.method === "POST" && (path === "/completions" || path === "/chat/completions")) {
      return await complete(req, res, options, actor, path === "/chat/completions" ? "chat" : "completion");
    }
    const known = ["/models", "/completions", "/chat/completions"].includes(path) || path.startsWith("/models/");
    throw new Refusal(
      known
        ? openAiError(405, "invalid_request_error", `${req.method} is not allowed on ${url.pathname}.`, "method_not_allowed")
        : openAiError(404, "not_found_error", `Unknown path ${url.pathname}. Hearth serves /v1/models, /v1/completions and /v1/chat/completions.`, "unknown_url"),
    );
  } catch (error) {
    if (res.headersSent) return;
    if (error instanceof Refusal) return sendError(res, error.error);
    if (error instanceof RateLimited) {
      res.setHeader("retry-after", String(error.retryAfterSeconds));
      return sendError(res, openAiError(429, "rate_limit_error", error.message, "rate_limit_exceeded"));
    }
    const id = randomBytes(6).toString("hex");
    console.error(`[hearth] serving: internal error ${id}:`, error);
    sendError(res, openAiError(500, "server_error", `Something went wrong on the server (error id ${id}).`));
  }
}

function modelNotFound(id: string): OpenAiError {
  return openAiError(404, "not_found_error", `The model "${id}" does not exist or this key cannot reach it. GET /v1/models lists the models it can call.`, "model_not_found", "model");
}

async function complete(req: IncomingMessage, res: ServerResponse, options: ServingOptions, actor: Extract<Actor, { type: "apiKey" }>, kind: "completion" | "chat"): Promise<void> {
  const raw = await readJson(req);
  const parsed = kind === "chat" ? ChatBody.safeParse(raw) : CompletionBody.safeParse(raw);
  if (!parsed.success) throw new Refusal(invalidBody(parsed.error));
  const body = parsed.data;
  const generation = kind === "chat" ? chatRequestOf(body as ChatBody) : completionRequestOf(body as CompletionBody);
  if ("status" in generation) throw new Refusal(generation);
  const model = await resolveModel(options.db, actor, body.model);
  if (!model) throw new Refusal(modelNotFound(body.model));

  const request: CompletionRequest = { ...generation, modelVersionId: model.modelVersionId, orgId: actor.orgId };
  const meta: ResponseMeta = { id: responseId(kind), created: Math.floor(Date.now() / 1000), model: model.id };
  // A client that hangs up stops the generation.
  const controller = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) controller.abort(new Error("The client closed the connection."));
  });

  const keep = (result: CompletionResult) => keepServed(options.db, actor, model, kind, body, result);

  if (!body.stream) {
    const result = await run(options, request, { signal: controller.signal });
    sendJson(res, 200, kind === "chat" ? chatResponse(meta, result) : completionResponse(meta, result));
    return keep(result);
  }

  // Streaming: headers go out with the first piece, so a request no node can serve still gets its 503.
  let started = false;
  const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
    if (kind === "chat") send(streamChunk(kind, meta, { role: true, delta: "" }));
  };
  try {
    const result = await run(options, request, {
      signal: controller.signal,
      onText: (delta) => {
        if (!delta || controller.signal.aborted) return;
        start();
        send(streamChunk(kind, meta, { delta }));
      },
    });
    start();
    send(streamChunk(kind, meta, { finish: result.finishReason }));
    if (body.stream_options?.include_usage) send(usageChunk(kind, meta, result));
    res.end("data: [DONE]\n\n");
    await keep(result);
  } catch (error) {
    if (!started) throw error;
    // Mid-stream failures arrive as an error event, which OpenAI clients raise as an APIError.
    const failure = error instanceof Refusal ? error.error : openAiError(500, "server_error", "The generation failed while streaming.");
    if (!(error instanceof Refusal)) console.error("[hearth] serving: stream failed:", error);
    if (!res.writableEnded) res.end(`data: ${JSON.stringify(errorBody(failure))}\n\n`);
  }
}

/** The project's served-request log (when it is on); a failure to keep it never fails the answer already sent. */
async function keepServed(db: PrismaClient, actor: Extract<Actor, { type: "apiKey" }>, model: ServableModel, kind: "completion" | "chat", body: ChatBody | CompletionBody, result: CompletionResult): Promise<void> {
  const prompt = kind === "chat" ? JSON.stringify(chatMessages((body as ChatBody).messages)) : [(body as CompletionBody).prompt].flat().join("");
  try {
    await logServedRequest(db, {
      projectId: model.projectId,
      modelVersionId: model.modelVersionId,
      model: model.id,
      kind,
      prompt,
      output: result.text,
      apiKeyId: actor.keyId,
      promptTokens: result.promptTokens,
      completionTokens: result.completionTokens,
    });
  } catch (error) {
    console.error("[hearth] serving: could not keep the served request in the project's log:", error);
  }
}

async function run(options: ServingOptions, request: CompletionRequest, callbacks: Parameters<RouteCompletion>[1]): Promise<CompletionResult> {
  try {
    return await options.routeCompletion(request, callbacks);
  } catch (error) {
    // By name too: the nodes' hub may come from another module graph of this process (Next's bundle).
    if (error instanceof NoNodeAvailable || (error as Error)?.name === "NoNodeAvailable") throw new Refusal(openAiError(503, "server_error", (error as Error).message, "no_node_available"));
    throw error;
  }
}
