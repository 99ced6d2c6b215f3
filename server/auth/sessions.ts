// Server-side sessions. next-auth's credentials sign-in needs JWT sessions, so the cookie stays a
// next-auth JWT, and carries the id of a Session row: every request and socket that authenticates by
// cookie (server/auth/session.ts) looks it up by primary key, so ending the row signs that browser
// out at once: sign-out, "sign out everywhere", a password change (the other sessions), an ADMIN.
import type { PrismaClient } from "@/server/db/generated/client";
import { randomToken } from "./tokens";

export const SESSION_MAX_AGE_SECONDS = 7 * 24 * 3600;

type Sessions = Pick<PrismaClient, "session">;

export async function createSession(db: Sessions, userId: string, details: { userAgent?: string | null; address?: string | null } = {}): Promise<string> {
  const id = randomToken(24);
  await db.session.create({
    data: { id, userId, expiresAt: new Date(Date.now() + SESSION_MAX_AGE_SECONDS * 1000), userAgent: details.userAgent?.slice(0, 300) ?? null, address: details.address ?? null },
  });
  return id;
}

/** Whether `sessionId` is a live session of `userId`: one primary-key lookup, no write. */
export async function sessionIsLive(db: Sessions, sessionId: string, userId: string): Promise<boolean> {
  const session = await db.session.findUnique({ where: { id: sessionId }, select: { userId: true, expiresAt: true, endedAt: true } });
  return !!session && session.userId === userId && !session.endedAt && session.expiresAt.getTime() > Date.now();
}

export async function endSession(db: Sessions, sessionId: string): Promise<void> {
  await db.session.updateMany({ where: { id: sessionId, endedAt: null }, data: { endedAt: new Date() } });
}

/** Ends every live session of a user, but `keep` (the caller's own, after a password change). Returns how many. */
export async function endUserSessions(db: Sessions, userId: string, keep?: string): Promise<number> {
  const ended = await db.session.updateMany({ where: { userId, endedAt: null, ...(keep ? { id: { not: keep } } : {}) }, data: { endedAt: new Date() } });
  return ended.count;
}

/** A user's live sessions, newest first; `current` marks the caller's. */
export async function listUserSessions(db: Sessions, userId: string, currentSessionId?: string) {
  const rows = await db.session.findMany({
    where: { userId, endedAt: null, expiresAt: { gt: new Date() } },
    select: { id: true, createdAt: true, expiresAt: true, userAgent: true, address: true },
    orderBy: { createdAt: "desc" },
  });
  return rows.map((row) => ({ ...row, current: row.id === currentSessionId }));
}
