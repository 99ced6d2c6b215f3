import { authorizeResource } from "@/server/auth/access";
import { DomainError } from "@/server/errors";
import { errorResponse, requestContext } from "@/server/http/respond";
import { receiveFolderFile } from "@/server/models/folders";

export const dynamic = "force-dynamic";

/** Send one file of a folder upload as the raw body; it is checked against the announced sha256. */
export async function PUT(req: Request, { params }: { params: Promise<{ modelId: string; uploadId: string; path: string[] }> }) {
  try {
    const { modelId, uploadId, path } = await params;
    const ctx = await requestContext(req);
    const access = await authorizeResource(ctx, "model", modelId, "EDITOR", "models:write");
    if (!req.body) throw new DomainError("BAD_REQUEST", "Send the file as the request body.");
    const state = await receiveFolderFile(ctx.db, access.orgId, modelId, uploadId, path.map(decodeURIComponent).join("/"), req.body);
    return Response.json(state);
  } catch (error) {
    return errorResponse(error);
  }
}
