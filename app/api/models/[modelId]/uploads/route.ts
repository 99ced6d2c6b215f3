import { z } from "zod";
import { authorizeResource } from "@/server/auth/access";
import { idSchema } from "@/contracts/zod";
import { DomainError } from "@/server/errors";
import { errorResponse, requestContext } from "@/server/http/respond";
import { startFolderUpload } from "@/server/models/folders";

export const dynamic = "force-dynamic";

const bodySchema = z
  .object({
    files: z.array(z.object({ path: z.string().min(1).max(600), sha256: z.string().length(64), size: z.number().int().min(0) }).strict()).min(1).max(256),
    lineage: z.object({ runId: idSchema.optional(), datasetVersionId: idSchema.optional(), parentVersionId: idSchema.optional() }).strict().default({}),
  })
  .strict();

/**
 * Start (or resume) importing a Hugging Face folder as a new version of this model: send the list of
 * files with their sha256 and size; the answer names the upload and the files still to send.
 */
export async function POST(req: Request, { params }: { params: Promise<{ modelId: string }> }) {
  try {
    const { modelId } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "model", modelId, "EDITOR", "models:write");
    const text = await req.text();
    if (text.length > 256 * 1024) throw new DomainError("BAD_REQUEST", "The file list is too long.");
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DomainError("BAD_REQUEST", "Send the file list as JSON: { files: [{ path, sha256, size }] }.");
    }
    const parsed = bodySchema.safeParse(json);
    if (!parsed.success) throw new DomainError("BAD_REQUEST", `Invalid file list: ${parsed.error.issues.map((i) => `${i.path.join(".") || "body"} ${i.message}`).join("; ")}.`);
    const state = await startFolderUpload(ctx.db, ctx.actor!, access.orgId, modelId, parsed.data);
    return Response.json(state, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}
