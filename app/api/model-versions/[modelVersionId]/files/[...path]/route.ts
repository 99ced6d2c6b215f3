import { Readable } from "node:stream";
import { authorizeResource } from "@/server/auth/access";
import { getArtifactStore } from "@/server/storage";
import { errorResponse, requestContext } from "@/server/http/respond";
import { versionFile } from "@/server/models/folders";

export const dynamic = "force-dynamic";

/** One file of a model version's Hugging Face folder, streamed from storage. */
export async function GET(req: Request, { params }: { params: Promise<{ modelVersionId: string; path: string[] }> }) {
  try {
    const { modelVersionId, path } = await params;
    const ctx = await requestContext(req);
    await authorizeResource(ctx, "modelVersion", modelVersionId, "VIEWER", "models:read");
    const filePath = path.map(decodeURIComponent).join("/");
    const file = await versionFile(ctx.db, modelVersionId, filePath);
    const stream = await getArtifactStore().open(file.sha256);
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(file.size),
        "content-disposition": `attachment; filename="${filePath.split("/").pop()!.replace(/[^\w.-]+/g, "_")}"`,
        "x-content-sha256": file.sha256,
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
