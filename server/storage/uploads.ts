// Who uploaded what. The artifact store is shared by every organization and addressed by sha256, so
// knowing a hash must never be enough to reach a file: each upload records its organization, and
// references (a model version's file) are accepted only to content the same organization uploaded.
import type { PrismaClient } from "@/server/db/generated/client";

type Uploads = Pick<PrismaClient, "artifactUpload">;

/** Records that `orgId` uploaded the content `sha256` (again is harmless). */
export async function recordUpload(db: Uploads, orgId: string, sha256: string): Promise<void> {
  await db.artifactUpload.createMany({ data: [{ orgId, sha256 }], skipDuplicates: true });
}

/** Whether `orgId` uploaded the content `sha256`: one primary-key lookup. */
export async function uploadedBy(db: Uploads, orgId: string, sha256: string): Promise<boolean> {
  return (await db.artifactUpload.findUnique({ where: { orgId_sha256: { orgId, sha256 } }, select: { orgId: true } })) !== null;
}
