// Who may open a shared document: the session user's membership in the organization that owns the
// policy's or suite's project. VIEWER reads; EDITOR, ADMIN and OWNER write. API keys never reach here.
import type { PrismaClient } from "@/server/db/client";
import { roleAtLeast, type RoleName } from "@/contracts/roles";
import type { CollabDocRef } from "./names";

export interface DocAccess {
  orgId: string;
  projectId: string;
  role: RoleName;
  canWrite: boolean;
}

/** The user's access to the document, or null when the document or the membership does not exist. */
export async function resolveDocAccess(db: PrismaClient, userId: string, ref: CollabDocRef): Promise<DocAccess | null> {
  const resource =
    ref.kind === "policy"
      ? await db.policy.findUnique({ where: { id: ref.id }, select: { projectId: true, project: { select: { orgId: true } } } })
      : await db.evalSuite.findUnique({ where: { id: ref.id }, select: { projectId: true, project: { select: { orgId: true } } } });
  if (!resource) return null;
  const orgId = resource.project.orgId;
  const membership = await db.membership.findUnique({ where: { orgId_userId: { orgId, userId } }, select: { role: true } });
  if (!membership) return null;
  return { orgId, projectId: resource.projectId, role: membership.role, canWrite: roleAtLeast(membership.role, "EDITOR") };
}

/** The origins a browser page may open sockets from (the same as for cookie-authenticated requests). */
export { allowedOriginsFromEnvironment } from "@/server/auth/origins";
