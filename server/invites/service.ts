import type { PrismaClient, Role } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import type { RoleName } from "@/contracts/roles";
import { recordAudit } from "@/server/audit/service";
import { actorId } from "@/contracts/actor";
import { randomToken, sha256Hex } from "@/server/auth/tokens";
import { DomainError } from "@/server/errors";
import { assertNotBlocked, recordFailure } from "@/server/auth/rate-limit";

export const inviteSelect = {
  id: true,
  email: true,
  role: true,
  expiresAt: true,
  createdAt: true,
  acceptedAt: true,
  revokedAt: true,
} as const;

export function listInvites(db: PrismaClient, orgId: string) {
  return db.invite.findMany({ where: { orgId, acceptedAt: null, revokedAt: null }, select: inviteSelect, orderBy: { createdAt: "desc" } });
}

/** Creates an invitation; the token is returned once and only its sha256 is kept. */
export async function createInvite(
  db: PrismaClient,
  actor: Actor,
  callerRole: RoleName | null,
  input: { orgId: string; role: Role; email?: string; expiresInHours: number },
) {
  if (input.role === "OWNER" && callerRole !== "OWNER") throw new DomainError("FORBIDDEN", "Only an OWNER can invite another OWNER.");
  const token = randomToken(32);
  const createdById = actorId(actor);
  const invite = await db.$transaction(async (tx) => {
    const row = await tx.invite.create({
      data: {
        orgId: input.orgId,
        role: input.role,
        email: input.email?.toLowerCase() ?? null,
        tokenHash: sha256Hex(token),
        expiresAt: new Date(Date.now() + input.expiresInHours * 3_600_000),
        createdById,
      },
      select: inviteSelect,
    });
    await recordAudit(tx, actor, { orgId: input.orgId, action: "invite.create", resourceType: "Invite", resourceId: row.id, after: row });
    return row;
  });
  return { invite, token };
}

export async function revokeInvite(db: PrismaClient, actor: Actor, orgId: string, inviteId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.invite.findFirst({ where: { id: inviteId, orgId }, select: inviteSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Invitation not found.");
    const after = await tx.invite.update({ where: { id: inviteId }, data: { revokedAt: new Date() }, select: inviteSelect });
    await recordAudit(tx, actor, { orgId, action: "invite.revoke", resourceType: "Invite", resourceId: inviteId, before, after });
    return after;
  });
}

type InviteState = "valid" | "expired" | "revoked" | "accepted";

class InvalidInviteToken extends DomainError {
  constructor() {
    super("NOT_FOUND", "This invitation link is not valid. Ask for a new one.");
  }
}

/**
 * Runs a lookup by invitation token under the address's limit on wrong tokens (server/auth/rate-limit.ts):
 * a blocked address is refused before the lookup, and an unknown token counts against it.
 */
async function throttled<T>(db: PrismaClient, address: string | null | undefined, lookup: () => Promise<T>): Promise<T> {
  await assertNotBlocked(db, [["token:address", address]]);
  try {
    return await lookup();
  } catch (error) {
    if (error instanceof InvalidInviteToken) await recordFailure(db, [["token:address", address]]);
    throw error;
  }
}

async function findByToken(db: Pick<PrismaClient, "invite">, token: string) {
  const invite = await db.invite.findUnique({
    where: { tokenHash: sha256Hex(token) },
    select: { ...inviteSelect, orgId: true, org: { select: { name: true } } },
  });
  if (!invite) throw new InvalidInviteToken();
  const state: InviteState = invite.revokedAt ? "revoked" : invite.acceptedAt ? "accepted" : invite.expiresAt.getTime() <= Date.now() ? "expired" : "valid";
  return { invite, state };
}

export async function previewInvite(db: PrismaClient, token: string, address?: string | null) {
  const { invite, state } = await throttled(db, address, () => findByToken(db, token));
  return { orgName: invite.org.name, role: invite.role, email: invite.email, expiresAt: invite.expiresAt, state };
}

const STATE_MESSAGES: Record<Exclude<InviteState, "valid">, string> = {
  expired: "This invitation has expired. Ask an admin for a new one.",
  revoked: "This invitation was revoked.",
  accepted: "This invitation has already been used.",
};

export async function acceptInvite(db: PrismaClient, actor: Actor & { type: "user" }, token: string, address?: string | null) {
  return throttled(db, address, () => acceptInviteIn(db, actor, token));
}

async function acceptInviteIn(db: PrismaClient, actor: Actor & { type: "user" }, token: string) {
  return db.$transaction(async (tx) => {
    const { invite, state } = await findByToken(tx, token);
    if (state !== "valid") throw new DomainError("PRECONDITION_FAILED", STATE_MESSAGES[state]);
    if (invite.email && invite.email !== actor.email.toLowerCase()) {
      throw new DomainError("FORBIDDEN", `This invitation is for ${invite.email}; sign in with that address to accept it.`);
    }
    const existing = await tx.membership.findUnique({ where: { orgId_userId: { orgId: invite.orgId, userId: actor.userId } } });
    if (existing) throw new DomainError("CONFLICT", `You are already a member of ${invite.org.name}.`);
    // Conditional update: two concurrent accepts of one token cannot both succeed.
    const claimed = await tx.invite.updateMany({ where: { id: invite.id, acceptedAt: null }, data: { acceptedAt: new Date(), acceptedById: actor.userId } });
    if (claimed.count !== 1) throw new DomainError("PRECONDITION_FAILED", STATE_MESSAGES.accepted);
    const membership = await tx.membership.create({
      data: { orgId: invite.orgId, userId: actor.userId, role: invite.role },
      select: { id: true, role: true, orgId: true },
    });
    await recordAudit(tx, actor, { orgId: invite.orgId, action: "invite.accept", resourceType: "Membership", resourceId: membership.id, after: { ...membership, inviteId: invite.id } });
    return membership;
  });
}
