import { Readable } from "node:stream";
import { authorizeResource } from "@/server/auth/access";
import { getArtifactStore } from "@/server/storage";
import { errorResponse, requestContext } from "@/server/http/respond";

export const dynamic = "force-dynamic";

/** Download a dataset version's file, streamed from storage. */
export async function GET(req: Request, { params }: { params: Promise<{ datasetVersionId: string }> }) {
  try {
    const { datasetVersionId } = await params;
    const ctx = await requestContext(req);
    await authorizeResource(ctx, "datasetVersion", datasetVersionId, "VIEWER", "datasets:read");
    const version = await ctx.db.datasetVersion.findUniqueOrThrow({ where: { id: datasetVersionId }, select: { sha256: true, bytes: true, version: true, dataset: { select: { name: true, kind: true } } } });
    const stream = await getArtifactStore().open(version.sha256);
    const extension = version.dataset.kind === "PAIRS" ? "jsonl" : "txt";
    return new Response(Readable.toWeb(stream) as ReadableStream, {
      headers: {
        "content-type": version.dataset.kind === "PAIRS" ? "application/x-ndjson" : "text/plain; charset=utf-8",
        "content-length": version.bytes.toString(),
        "content-disposition": `attachment; filename="${version.dataset.name.replace(/[^\w.-]+/g, "_")}-v${version.version}.${extension}"`,
        "x-content-sha256": version.sha256,
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
