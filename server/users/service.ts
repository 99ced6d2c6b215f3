import type { PrismaClient } from "@/server/db/generated/client";
import { hashPassword } from "@/server/auth/password";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import type { Actor } from "@/contracts/actor";
import { authorizeCredentials } from "@/server/auth/credentials";
import { endUserSessions } from "@/server/auth/sessions";

export async function signUp(db: PrismaClient, input: { email: string; name: string; password: string }) {
  const email = input.email.toLowerCase();
  if (await db.user.findUnique({ where: { email }, select: { id: true } })) {
    throw new DomainError("CONFLICT", "An account with this email already exists. Sign in instead.");
  }
  const passwordHash = await hashPassword(input.password);
  return db.$transaction(async (tx) => {
    const user = await tx.user.create({ data: { email, name: input.name, passwordHash }, select: { id: true, email: true, name: true } });
    await recordAudit(tx, { type: "user", userId: user.id, email: user.email, name: user.name }, {
      orgId: null,
      action: "user.signUp",
      resourceType: "User",
      resourceId: user.id,
      after: user,
    });
    return user;
  });
}

/**
 * Changes a person's password: the current one must match (limited like sign-in, per account), and
 * every other session of theirs ends, so whoever knew the old password is signed out.
 */
export async function changePassword(
  db: PrismaClient,
  actor: Actor & { type: "user" },
  input: { currentPassword: string; newPassword: string },
  address: string | null = null,
) {
  const user = await authorizeCredentials(db, { email: actor.email, password: input.currentPassword }, address);
  if (!user || user.id !== actor.userId) throw new DomainError("BAD_REQUEST", "The current password is not right.");
  const passwordHash = await hashPassword(input.newPassword);
  return db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: actor.userId }, data: { passwordHash } });
    const ended = await endUserSessions(tx, actor.userId, actor.sessionId);
    await recordAudit(tx, actor, { orgId: null, action: "user.changePassword", resourceType: "User", resourceId: actor.userId, after: { endedSessions: ended } });
    return { endedSessions: ended };
  });
}

/** Ends one of the caller's own sessions (the sessions page), or all of them ("sign out everywhere"). */
export async function endOwnSessions(db: PrismaClient, actor: Actor & { type: "user" }, sessionId: string | null) {
  if (sessionId) {
    const ended = await db.session.updateMany({ where: { id: sessionId, userId: actor.userId, endedAt: null }, data: { endedAt: new Date() } });
    if (ended.count === 0) throw new DomainError("NOT_FOUND", "Session not found.");
    return { endedSessions: 1 };
  }
  const ended = await endUserSessions(db, actor.userId);
  await recordAudit(db, actor, { orgId: null, action: "user.signOutEverywhere", resourceType: "User", resourceId: actor.userId, after: { endedSessions: ended } });
  return { endedSessions: ended };
}
