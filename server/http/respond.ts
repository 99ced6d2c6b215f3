import { randomBytes } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { DomainError, RateLimited } from "@/server/errors";
import { getDb } from "@/server/db/client";
import type { Actor } from "@/contracts/actor";
import { resolveActor } from "@/server/auth/resolve-actor";
import { crossSiteRefusal } from "@/server/auth/origins";
import type { PrismaClient } from "@/server/db/generated/client";

/** For plain route handlers (uploads, downloads): the same errors as the tRPC API, never a stack trace. */
export function errorResponse(error: unknown): Response {
  if (error instanceof RateLimited) {
    return Response.json({ error: { code: error.code, message: error.message } }, { status: 429, headers: { "retry-after": String(error.retryAfterSeconds) } });
  }
  if (error instanceof TRPCError && error.cause instanceof RateLimited) return errorResponse(error.cause);
  if (error instanceof DomainError) error = new TRPCError({ code: error.code, message: error.message });
  if (error instanceof TRPCError && error.code !== "INTERNAL_SERVER_ERROR") {
    return Response.json({ error: { code: error.code, message: error.message } }, { status: getHTTPStatusCodeFromError(error) });
  }
  const id = randomBytes(6).toString("hex");
  console.error(`[hearth] internal error ${id}:`, error);
  return Response.json({ error: { code: "INTERNAL_SERVER_ERROR", message: `Something went wrong on the server (error id ${id}).` } }, { status: 500 });
}

/**
 * The database and who is asking. A state-changing request authenticated by the session cookie from
 * another origin (another site, or another port of this host) is refused with 403 (server/auth/origins.ts).
 */
export async function requestContext(req: Request): Promise<{ db: PrismaClient; actor: Actor | null }> {
  const refusal = crossSiteRefusal(req.method, req.headers, new URL(req.url).origin);
  if (refusal) throw new TRPCError({ code: "FORBIDDEN", message: refusal });
  const db = getDb();
  return { db, actor: await resolveActor(db, req.headers) };
}
