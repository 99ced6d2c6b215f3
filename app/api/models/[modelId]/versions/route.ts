import { z } from "zod";
import { authorizeResource } from "@/server/auth/access";
import { idSchema } from "@/contracts/zod";
import { createModelVersionWithArtifact, modelVersionOfRun, serializeModelVersion, storeModelArtifact } from "@/server/models/artifacts";
import { DomainError } from "@/server/errors";
import { errorResponse, requestContext } from "@/server/http/respond";

export const dynamic = "force-dynamic";

const lineageSchema = z.object({ runId: idSchema.optional(), datasetVersionId: idSchema.optional(), parentVersionId: idSchema.optional() }).strict();

/**
 * Upload a checkpoint as a new model version: the safetensors file is the request body, streamed to
 * storage and checked; lineage in the query (?runId=&datasetVersionId=&parentVersionId=). A run
 * registers at most one version: uploading again for the same run answers 200 with that version.
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
    if (!req.body) throw new DomainError("BAD_REQUEST", "Send the safetensors checkpoint as the request body.");
    const artifact = await storeModelArtifact({ db: ctx.db, orgId: access.orgId }, req.body);
    const { version, created } = await createModelVersionWithArtifact(ctx.db, ctx.actor!, access.orgId, modelId, {
      ...lineage,
      config: { architecture: artifact.config, parameters: artifact.parameters, tokenizerVocab: artifact.tokenizerVocab, checkpoint: artifact.metadata },
      sha256: artifact.sha256,
      sizeBytes: artifact.sizeBytes,
    });
    return Response.json(version, { status: created ? 201 : 200 });
  } catch (error) {
    return errorResponse(error);
  }
}
