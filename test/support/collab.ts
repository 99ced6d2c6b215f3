// Helpers for co-editing tests: a CollabServer on its own HTTP port, session cookies minted like
// next-auth's, and the real y-websocket client over real sockets (Node can set the Cookie and
// Origin headers that a browser would send).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { encode } from "next-auth/jwt";
import WebSocket from "ws";
import { readVarString, readVarUint } from "lib0/decoding";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { CollabServer, type CollabServerOptions } from "@/server/collab";
import { createSession } from "@/server/auth/sessions";
import type { PrismaClient } from "@/server/db/generated/client";

export const TEST_ORIGIN = "http://hearth.test";

export function ensureTestAuthSecret(): string {
  process.env.NEXTAUTH_SECRET ??= "collab-test-secret-0123456789abcdef";
  return process.env.NEXTAUTH_SECRET;
}

/** A Cookie header carrying a next-auth session for `userId`, with its stored session (server/auth/sessions.ts). */
export async function sessionCookie(db: Pick<PrismaClient, "session">, userId: string): Promise<string> {
  const sid = await createSession(db, userId);
  const token = await encode({ token: { uid: userId, sub: userId, sid }, secret: ensureTestAuthSecret() });
  return `next-auth.session-token=${token}`;
}

export interface RunningCollabServer {
  url: string;
  wsUrl: string;
  server: CollabServer;
  close(): Promise<void>;
}

/** A CollabServer behind a plain HTTP server on a free port (the same handler main.ts routes to). */
export async function startCollabServer(options: CollabServerOptions = {}): Promise<RunningCollabServer> {
  ensureTestAuthSecret();
  const collab = new CollabServer({ allowedOrigins: [TEST_ORIGIN], ...options });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on("upgrade", (req, socket, head) => {
    if ((req.url ?? "").startsWith("/yjs/")) collab.handleUpgrade(req, socket, head);
    else socket.end("HTTP/1.1 404 Not Found\r\n\r\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/yjs`,
    server: collab,
    async close() {
      await collab.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A `ws` WebSocket class that sends the given headers, for y-websocket's WebSocketPolyfill. */
export function webSocketWithHeaders(headers: Record<string, string>): typeof WebSocket {
  return class extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  } as typeof WebSocket;
}

export interface TestClient {
  doc: Y.Doc;
  provider: WebsocketProvider;
  /** Reasons from auth messages (the server sends "read-only" to VIEWERs). */
  authMessages: string[];
  closeEvents: { code: number; reason: string }[];
  synced(): Promise<void>;
  destroy(): void;
}

export function connectClient(
  wsUrl: string,
  docName: string,
  headers: { cookie?: string; origin?: string },
  options: { connect?: boolean } = {},
): TestClient {
  const doc = new Y.Doc();
  const allHeaders: Record<string, string> = {};
  if (headers.cookie) allHeaders.cookie = headers.cookie;
  allHeaders.origin = headers.origin ?? TEST_ORIGIN;
  const provider = new WebsocketProvider(wsUrl, docName, doc, {
    WebSocketPolyfill: webSocketWithHeaders(allHeaders) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
    connect: options.connect ?? true,
    maxBackoffTime: 500,
  });
  const authMessages: string[] = [];
  const closeEvents: { code: number; reason: string }[] = [];
  // messageAuth (2): y-protocols' permission-denied message carries the reason.
  provider.messageHandlers[2] = (_encoder, decoder) => {
    const type = readVarUint(decoder);
    if (type === 0) authMessages.push(readVarString(decoder));
  };
  provider.on("connection-close", (event) => {
    if (event) closeEvents.push({ code: event.code, reason: event.reason });
  });
  return {
    doc,
    provider,
    authMessages,
    closeEvents,
    synced: () =>
      provider.synced ? Promise.resolve() : new Promise<void>((resolve) => provider.once("sync", (state: boolean) => state && resolve())),
    destroy() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** What an upgrade attempt got: the HTTP status of a refusal, or "open". */
export function tryUpgrade(url: string, headers: Record<string, string>): Promise<{ status: number | "open"; firstMessage?: boolean }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.on("unexpected-response", (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.on("open", () => {
      resolve({ status: "open" });
      ws.close();
    });
    ws.on("error", () => undefined);
  });
}

/** Resolves when `check` holds, polling; rejects with `message` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, message: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface CollabFixture {
  orgId: string;
  projectId: string;
  users: Record<"EDITOR" | "VIEWER" | "ADMIN" | "outsider", { id: string; email: string; name: string }>;
  createPolicy(draft?: string, title?: string): Promise<string>;
}

/** An organization with an EDITOR, a VIEWER and an ADMIN, a project, and an outsider elsewhere (no tRPC involved). */
export async function createCollabFixture(db: import("@/server/db/client").PrismaClient, password?: string): Promise<CollabFixture> {
  const { hashPassword } = await import("@/server/auth/password");
  const passwordHash = password ? await hashPassword(password) : null;
  const tag = Math.random().toString(36).slice(2, 10);
  const users = {} as CollabFixture["users"];
  for (const [role, name] of [["EDITOR", "Eve Editor"], ["VIEWER", "Vic Viewer"], ["ADMIN", "Ada Admin"], ["outsider", "Otto Outsider"]] as const) {
    const email = `${role.toLowerCase()}-${tag}@example.test`;
    users[role] = await db.user.create({ data: { email, name, passwordHash }, select: { id: true, email: true, name: true } });
  }
  const org = await db.organization.create({ data: { name: `Collab ${tag}`, slug: `collab-${tag}` }, select: { id: true } });
  const other = await db.organization.create({ data: { name: `Other ${tag}`, slug: `other-${tag}` }, select: { id: true } });
  for (const role of ["EDITOR", "VIEWER", "ADMIN"] as const) {
    await db.membership.create({ data: { orgId: org.id, userId: users[role].id, role } });
  }
  await db.membership.create({ data: { orgId: other.id, userId: users.outsider.id, role: "OWNER" } });
  const project = await db.project.create({ data: { orgId: org.id, name: "Refund bot", slug: `refund-${tag}` }, select: { id: true } });
  let n = 0;
  return {
    orgId: org.id,
    projectId: project.id,
    users,
    async createPolicy(draft = "", title = "Refund policy") {
      const policy = await db.policy.create({
        data: { projectId: project.id, key: `P-${tag}-${++n}`, title, draft, createdById: users.ADMIN.id },
        select: { id: true },
      });
      return `policy:${policy.id}`;
    },
  };
}

/** A policy of the fixture's project with `draft` as its text, named as its co-editing document. */
export async function createPolicyDocument(db: Pick<PrismaClient, "policy">, f: { projectId: string; users: { OWNER: { userId: string } } }, draft = ""): Promise<string> {
  const policy = await db.policy.create({
    data: { projectId: f.projectId, key: `p-${Math.random().toString(36).slice(2, 10)}`, title: "Refunds", draft, createdById: f.users.OWNER.userId },
    select: { id: true },
  });
  return `policy:${policy.id}`;
}
