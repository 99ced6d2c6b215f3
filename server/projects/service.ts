import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { slugify } from "@/server/slug";
import { DomainError } from "@/server/errors";

export const projectSelect = { id: true, orgId: true, name: true, slug: true, description: true, createdAt: true, updatedAt: true } as const;

/** Refuses a name another project of the organization already has, in words a person can act on. */
async function assertNameFree(tx: Pick<PrismaClient, "project">, orgId: string, name: string, exceptId?: string) {
  const other = await tx.project.findFirst({ where: { orgId, name, ...(exceptId ? { id: { not: exceptId } } : {}) }, select: { id: true } });
  if (other) throw new DomainError("CONFLICT", `A project named "${name}" already exists in this organization; choose another name.`);
}

export async function createProject(db: PrismaClient, actor: Actor, input: { orgId: string; name: string; description: string }) {
  return db.$transaction(async (tx) => {
    await assertNameFree(tx, input.orgId, input.name);
    const base = slugify(input.name);
    const taken = new Set(
      (await tx.project.findMany({ where: { orgId: input.orgId, slug: { startsWith: base } }, select: { slug: true } })).map((p) => p.slug),
    );
    let slug = base;
    for (let n = 2; taken.has(slug); n++) slug = `${base}-${n}`;
    const project = await tx.project.create({ data: { ...input, slug }, select: projectSelect });
    await recordAudit(tx, actor, { orgId: input.orgId, action: "project.create", resourceType: "Project", resourceId: project.id, after: project });
    return project;
  });
}

export async function updateProject(db: PrismaClient, actor: Actor, projectId: string, changes: { name?: string; description?: string }) {
  return db.$transaction(async (tx) => {
    const before = await tx.project.findUnique({ where: { id: projectId }, select: projectSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Project not found.");
    if (changes.name !== undefined && changes.name !== before.name) await assertNameFree(tx, before.orgId, changes.name, projectId);
    const after = await tx.project.update({ where: { id: projectId }, data: changes, select: projectSelect });
    await recordAudit(tx, actor, { orgId: before.orgId, action: "project.update", resourceType: "Project", resourceId: projectId, before, after });
    return after;
  });
}

export async function deleteProject(db: PrismaClient, actor: Actor, projectId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.project.findUnique({ where: { id: projectId }, select: projectSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Project not found.");
    await tx.project.delete({ where: { id: projectId } });
    await recordAudit(tx, actor, { orgId: before.orgId, action: "project.delete", resourceType: "Project", resourceId: projectId, before });
    return { id: projectId };
  });
}
