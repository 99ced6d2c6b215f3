import { randomUUID } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import { getDb } from "@/server/db/client";
import { userIdFromCookieHeader } from "@/server/auth/session";
import { authenticateApiKey } from "@/server/apikeys/service";

export type Actor =
  | { type: "user"; userId: string; email: string; name: string }
  /** projectId: the one project a project key is limited to; absent for organization-wide keys. */
  | { type: "apiKey"; keyId: string; orgId: string; projectId?: string; scopes: string[]; label: string };

export interface Context {
  db: PrismaClient;
  actor: Actor | null;
  requestId: string;
}

/** Who is asking: a Bearer API key wins over the session cookie; neither means anonymous. */
export async function resolveActor(db: PrismaClient, headers: Headers): Promise<Actor | null> {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) return null;
    return authenticateApiKey(db, match[1]);
  }
  const userId = await userIdFromCookieHeader(headers.get("cookie"));
  if (!userId) return null;
  const user = await db.user.findUnique({ where: { id: userId }, select: { id: true, email: true, name: true } });
  return user ? { type: "user", userId: user.id, email: user.email, name: user.name } : null;
}

export async function createContext({ headers }: { headers: Headers }): Promise<Context> {
  const db = getDb();
  return { db, actor: await resolveActor(db, headers), requestId: randomUUID() };
}

export function actorLabel(actor: Actor): string {
  return actor.type === "user" ? actor.email : actor.label;
}
