import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { slugify } from "@/server/slug";
import { randomBytes } from "node:crypto";
import { DomainError } from "@/server/errors";

export async function uniqueOrgSlug(db: Pick<PrismaClient, "organization">, name: string): Promise<string> {
  const base = slugify(name);
  for (let attempt = 0; attempt < 5; attempt++) {
    const slug = attempt === 0 ? base : `${base}-${randomBytes(3).toString("hex")}`;
    if (!(await db.organization.findUnique({ where: { slug }, select: { id: true } }))) return slug;
  }
  return `${base}-${randomBytes(6).toString("hex")}`;
}

export async function createOrganization(db: PrismaClient, actor: Actor & { type: "user" }, name: string) {
  return db.$transaction(async (tx) => {
    const org = await tx.organization.create({
      data: { name, slug: await uniqueOrgSlug(tx, name), memberships: { create: { userId: actor.userId, role: "OWNER" } } },
      select: { id: true, name: true, slug: true, createdAt: true },
    });
    await recordAudit(tx, actor, { orgId: org.id, action: "org.create", resourceType: "Organization", resourceId: org.id, after: org });
    return org;
  });
}

export async function renameOrganization(db: PrismaClient, actor: Actor, orgId: string, name: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.organization.findUnique({ where: { id: orgId }, select: { id: true, name: true, slug: true } });
    if (!before) throw new DomainError("NOT_FOUND", "Organization not found.");
    const after = await tx.organization.update({ where: { id: orgId }, data: { name }, select: { id: true, name: true, slug: true } });
    await recordAudit(tx, actor, { orgId, action: "org.rename", resourceType: "Organization", resourceId: orgId, before, after });
    return after;
  });
}
