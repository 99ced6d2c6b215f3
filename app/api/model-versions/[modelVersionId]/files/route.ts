import { authorizeResource } from "@/server/auth/access";
import { errorResponse, requestContext } from "@/server/http/respond";
import { listVersionFiles } from "@/server/models/folders";

export const dynamic = "force-dynamic";

/** The files of a model version that is a Hugging Face folder, with their sha256 and size. */
export async function GET(req: Request, { params }: { params: Promise<{ modelVersionId: string }> }) {
  try {
    const { modelVersionId } = await params;
    const ctx = await requestContext(req);
    await authorizeResource(ctx, "modelVersion", modelVersionId, "VIEWER", "models:read");
    return Response.json({ files: await listVersionFiles(ctx.db, modelVersionId) });
  } catch (error) {
    return errorResponse(error);
  }
}
