import type { PrismaClient } from "@/server/db/generated/client";

/** The organization a project belongs to (audit entries are filed by organization). */
export async function orgIdOfProject(db: Pick<PrismaClient, "project">, projectId: string): Promise<string> {
  return (await db.project.findUniqueOrThrow({ where: { id: projectId }, select: { orgId: true } })).orgId;
}
