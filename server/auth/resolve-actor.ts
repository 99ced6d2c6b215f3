import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { sessionFromCookieHeader } from "@/server/auth/session";
import { authenticateApiKey } from "@/server/apikeys/service";
import { clientAddress } from "@/server/auth/rate-limit";

/** Who is asking: a Bearer API key wins over the session cookie; neither means anonymous. */
export async function resolveActor(db: PrismaClient, headers: Headers): Promise<Actor | null> {
  const authorization = headers.get("authorization");
  if (authorization) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) return null;
    return authenticateApiKey(db, match[1], clientAddress(headers));
  }
  const session = await sessionFromCookieHeader(db, headers.get("cookie"));
  if (!session) return null;
  const user = await db.user.findUnique({ where: { id: session.userId }, select: { id: true, email: true, name: true } });
  return user ? { type: "user", userId: user.id, email: user.email, name: user.name, sessionId: session.sessionId } : null;
}
