import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { userIdFromCookieHeader } from "@/server/auth/session";
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
  const userId = await userIdFromCookieHeader(headers.get("cookie"));
  if (!userId) return null;
  const user = await db.user.findUnique({ where: { id: userId }, select: { id: true, email: true, name: true } });
  return user ? { type: "user", userId: user.id, email: user.email, name: user.name } : null;
}
