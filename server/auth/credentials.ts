// Email-and-password sign-in, under the limits on failed attempts (server/auth/rate-limit.ts): per
// account and per address, with backoff. A blocked account or address is refused before the user is
// looked up or scrypt runs, so guessing costs the server nothing while it is limited.
import type { PrismaClient } from "@/server/db/generated/client";
import { assertNotBlocked, blockedFor, clearFailures, recordFailure } from "./rate-limit";
import { dummyPasswordHash, verifyPassword } from "./password";

export interface CredentialsUser {
  id: string;
  email: string;
  name: string;
}

export function normalizeEmail(email: string | null | undefined): string {
  return (email ?? "").trim().toLowerCase();
}

/** Seconds until a sign-in for `email` from `address` may be tried, or 0 (the route answers 429 first). */
export async function signInBlockedFor(db: PrismaClient, email: string, address: string | null): Promise<number> {
  const account = email ? await blockedFor(db, "signin:account", normalizeEmail(email)) : 0;
  const from = address ? await blockedFor(db, "signin:address", address) : 0;
  return Math.max(account, from);
}

/** The user for an email and password, or null; throws RateLimited while the account or address is limited. */
export async function authorizeCredentials(
  db: PrismaClient,
  credentials: { email?: string; password?: string } | undefined,
  address: string | null,
  verify: (password: string, hash: string) => Promise<boolean> = verifyPassword,
): Promise<CredentialsUser | null> {
  const email = normalizeEmail(credentials?.email);
  const password = credentials?.password;
  if (!email || !password || password.length > 200) return null;
  await assertNotBlocked(db, [["signin:account", email], ["signin:address", address]]);
  const user = await db.user.findUnique({ where: { email }, select: { id: true, email: true, name: true, passwordHash: true } });
  // Verify against a dummy hash for unknown users so response time does not reveal accounts.
  const ok = await verify(password, user?.passwordHash ?? (await dummyPasswordHash()));
  if (!user || !user.passwordHash || !ok) {
    await recordFailure(db, [["signin:account", email], ["signin:address", address]]);
    return null;
  }
  await clearFailures(db, "signin:account", email);
  return { id: user.id, email: user.email, name: user.name };
}
