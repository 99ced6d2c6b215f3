import { Readable } from "node:stream";
import { authorizeResource } from "@/server/auth/access";
import { getArtifactStore } from "@/server/storage";
import { uploadedBy } from "@/server/storage/uploads";
import { DomainError } from "@/server/errors";
import { errorResponse, requestContext } from "@/server/http/respond";
import { listVersionFiles } from "@/server/models/folders";
import { folderArchiveResponse } from "@/server/models/folder-archives";

export const dynamic = "force-dynamic";

/**
 * Download a model version as one file, streamed from storage: a Hearth checkpoint as its safetensors
 * file; a Hugging Face folder as a ustar archive of its files (header `x-hearth-artifact: hf-folder-tar`).
 */
export async function GET(req: Request, { params }: { params: Promise<{ modelVersionId: string }> }) {
  try {
    const { modelVersionId } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "modelVersion", modelVersionId, "VIEWER", "models:read");
    const version = await ctx.db.modelVersion.findUniqueOrThrow({ where: { id: modelVersionId }, select: { version: true, artifactSha256: true, sizeBytes: true, model: { select: { name: true } } } });
    const fileName = `${version.model.name.replace(/[^\w.-]+/g, "_")}-v${version.version}`;
    if (!version.artifactSha256) {
      const files = await listVersionFiles(ctx.db, modelVersionId);
      if (!files.length) throw new DomainError("NOT_FOUND", "This model version has no artifact.");
      return folderArchiveResponse(getArtifactStore(), files, { "content-disposition": `attachment; filename="${fileName}.tar"` });
    }
    // A version created before uploads were recorded may name another organization's file: serve only our own.
    if (!(await uploadedBy(ctx.db, access.orgId, version.artifactSha256))) throw new DomainError("NOT_FOUND", "This model version's artifact was not uploaded to this organization.");
    const stream = await getArtifactStore().open(version.artifactSha256);
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: {
        "content-type": "application/octet-stream",
        ...(version.sizeBytes !== null ? { "content-length": version.sizeBytes.toString() } : {}),
        "content-disposition": `attachment; filename="${fileName}.safetensors"`,
        "x-content-sha256": version.artifactSha256,
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
