// Mounts the node API and the nodes' inference socket on a Node HTTP server (server/main.ts, and the
// tests' own servers): the same handlers either way, without going through Next.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import type { Duplex } from "node:stream";
import type { PrismaClient } from "@/server/db/generated/client";
import type { ArtifactStore } from "@/server/storage";
import { handleNodeApi, NODE_API_PREFIX } from "./api";
import type { InferenceHub } from "./hub";
import { NODE_SOCKET_PATH } from "@/contracts/node-protocol";

export function isNodeApiPath(pathname: string): boolean {
  return pathname.startsWith(NODE_API_PREFIX);
}

function toRequest(req: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  const hasBody = req.method !== "GET" && req.method !== "HEAD";
  return new Request(new URL(req.url ?? "/", "http://node-api.local"), {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    duplex: "half",
  } as RequestInit);
}

/** Serves a /api/node/... request. */
export async function serveNodeApi(db: PrismaClient, req: IncomingMessage, res: ServerResponse, options: { store?: ArtifactStore } = {}): Promise<void> {
  const response = await handleNodeApi(db, toRequest(req), options);
  res.statusCode = response.status;
  response.headers.forEach((value, name) => res.setHeader(name, value));
  if (!response.body) {
    res.end();
    return;
  }
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("error", () => res.destroy());
  body.pipe(res);
}

/** Takes the inference socket's upgrade; returns false for any other path. */
export function upgradeNodeSocket(hub: InferenceHub, req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
  if (new URL(req.url ?? "/", "http://localhost").pathname !== NODE_SOCKET_PATH) return false;
  hub.handleUpgrade(req, socket, head);
  return true;
}
