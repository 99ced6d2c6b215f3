import { authorizeResource } from "@/server/auth/access";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { errorResponse, requestContext } from "@/server/http/respond";

export const dynamic = "force-dynamic";

/** Upload a new dataset version: the raw file is the request body, streamed to storage. */
export async function POST(req: Request, { params }: { params: Promise<{ datasetId: string }> }) {
  try {
    const { datasetId } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "dataset", datasetId, "EDITOR", "datasets:write");
    if (!req.body) return Response.json({ error: { code: "BAD_REQUEST", message: "Send the file as the request body." } }, { status: 400 });
    const version = await uploadDatasetVersion(ctx.db, ctx.actor!, access.orgId, datasetId, req.body);
    return Response.json(version, { status: 201 });
  } catch (error) {
    return errorResponse(error);
  }
}
