import type { PrismaClient, Role } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import type { RoleName } from "@/contracts/roles";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { endUserSessions } from "@/server/auth/sessions";

const memberSelect = {
  id: true,
  role: true,
  createdAt: true,
  user: { select: { id: true, name: true, email: true } },
} as const;

export function listMembers(db: PrismaClient, orgId: string) {
  return db.membership.findMany({ where: { orgId }, select: memberSelect, orderBy: { createdAt: "asc" } });
}

/** Only an OWNER may touch OWNER memberships, and an organization always keeps one OWNER. */
async function checkOwnerRules(
  tx: Pick<PrismaClient, "membership">,
  orgId: string,
  callerRole: RoleName | null,
  target: { role: Role },
  newRole: Role | null,
) {
  const touchesOwner = target.role === "OWNER" || newRole === "OWNER";
  if (touchesOwner && callerRole !== "OWNER") {
    throw new DomainError("FORBIDDEN", "Only an OWNER can grant, change or remove the OWNER role.");
  }
  if (target.role === "OWNER" && newRole !== "OWNER") {
    const owners = await tx.membership.count({ where: { orgId, role: "OWNER" } });
    if (owners <= 1) throw new DomainError("PRECONDITION_FAILED", "An organization needs at least one OWNER; make someone else OWNER first.");
  }
}

export async function changeMemberRole(db: PrismaClient, actor: Actor, callerRole: RoleName | null, orgId: string, membershipId: string, role: Role) {
  return db.$transaction(async (tx) => {
    const before = await tx.membership.findFirst({ where: { id: membershipId, orgId }, select: memberSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Member not found.");
    await checkOwnerRules(tx, orgId, callerRole, before, role);
    const after = await tx.membership.update({ where: { id: membershipId }, data: { role }, select: memberSelect });
    await recordAudit(tx, actor, { orgId, action: "member.updateRole", resourceType: "Membership", resourceId: membershipId, before, after });
    return after;
  });
}

export async function removeMember(db: PrismaClient, actor: Actor, callerRole: RoleName | null, orgId: string, membershipId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.membership.findFirst({ where: { id: membershipId, orgId }, select: memberSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Member not found.");
    await checkOwnerRules(tx, orgId, callerRole, before, null);
    await tx.membership.delete({ where: { id: membershipId } });
    await recordAudit(tx, actor, { orgId, action: "member.remove", resourceType: "Membership", resourceId: membershipId, before });
    return { id: membershipId };
  });
}

/**
 * An ADMIN ends every session of a member (a lost laptop, someone leaving): they are signed out on
 * their next request. The owner rules of role changes apply: only an OWNER can do this to an OWNER.
 */
export async function endMemberSessions(db: PrismaClient, actor: Actor, callerRole: RoleName | null, orgId: string, membershipId: string) {
  const member = await db.membership.findFirst({ where: { id: membershipId, orgId }, select: { userId: true, role: true } });
  if (!member) throw new DomainError("NOT_FOUND", "Member not found.");
  if (member.role === "OWNER" && callerRole !== "OWNER") throw new DomainError("FORBIDDEN", "Only an OWNER can end an OWNER's sessions.");
  const ended = await endUserSessions(db, member.userId);
  await recordAudit(db, actor, { orgId, action: "member.endSessions", resourceType: "Membership", resourceId: membershipId, after: { userId: member.userId, endedSessions: ended } });
  return { endedSessions: ended };
}
