import { authorizeResource } from "@/server/auth/access";
import { errorResponse, requestContext } from "@/server/http/respond";
import { commitFolderUpload } from "@/server/models/folders";

export const dynamic = "force-dynamic";

/** Create the model version from a folder whose files have all arrived (refused with the reason otherwise). */
export async function POST(req: Request, { params }: { params: Promise<{ modelId: string; uploadId: string }> }) {
  try {
    const { modelId, uploadId } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "model", modelId, "EDITOR", "models:write");
    const version = await commitFolderUpload(ctx.db, ctx.actor!, access.orgId, modelId, uploadId);
    return Response.json(version, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}
