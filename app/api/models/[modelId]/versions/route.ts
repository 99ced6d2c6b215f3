import { z } from "zod";
import { authorizeResource } from "@/server/auth/access";
import { idSchema } from "@/contracts/zod";
import { createModelVersionWithArtifact, modelVersionOfRun, serializeModelVersion, storeUploadedModel } from "@/server/models/artifacts";
import { DomainError } from "@/server/errors";
import { errorResponse, requestContext } from "@/server/http/respond";

export const dynamic = "force-dynamic";

const lineageSchema = z.object({ runId: idSchema.optional(), datasetVersionId: idSchema.optional(), parentVersionId: idSchema.optional() }).strict();

/**
 * Upload a trained model as a new model version: the request body is a safetensors checkpoint, or a
 * Hugging Face folder as one ustar archive; streamed to storage and checked; lineage in the query
 * (?runId=&datasetVersionId=&parentVersionId=). A run registers at most one version: uploading again
 * for the same run answers 200 with that version.
 */
export async function POST(req: Request, { params }: { params: Promise<{ modelId: string }> }) {
  try {
    const { modelId } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "model", modelId, "EDITOR", "models:write");
    const parsed = lineageSchema.safeParse(Object.fromEntries(new URL(req.url).searchParams));
    if (!parsed.success) {
      throw new DomainError("BAD_REQUEST", `Invalid query: ${parsed.error.issues.map((i) => `${i.path.join(".") || "query"} ${i.message}`).join("; ")}.`);
    }
    const lineage = parsed.data;
    if (lineage.runId) {
      const existing = await modelVersionOfRun(ctx.db, lineage.runId);
      if (existing && existing.modelId === modelId) return Response.json(serializeModelVersion(existing), { status: 200 });
    }
    if (!req.body) throw new DomainError("BAD_REQUEST", "Send the safetensors checkpoint, or the folder's ustar archive, as the request body.");
    const uploaded = await storeUploadedModel({ db: ctx.db, orgId: access.orgId }, req.body);
    const artifact =
      uploaded.kind === "folder"
        ? { config: { ...uploaded.folder.description }, folder: uploaded.folder }
        : {
            config: { architecture: uploaded.config, parameters: uploaded.parameters, tokenizerVocab: uploaded.tokenizerVocab, checkpoint: uploaded.metadata },
            sha256: uploaded.sha256,
            sizeBytes: uploaded.sizeBytes,
          };
    const { version, created } = await createModelVersionWithArtifact(ctx.db, ctx.actor!, access.orgId, modelId, { ...lineage, ...artifact });
    return Response.json(version, { status: created ? 201 : 200 });
  } catch (error) {
    return errorResponse(error);
  }
}
