import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { createDataset, datasetVersionSelect, serializeVersion } from "./service";

export const datasetRouter = router({
  list: projectProcedure("VIEWER", "datasets:read").query(({ ctx }) =>
    ctx.db.dataset.findMany({
      where: { projectId: ctx.projectId },
      select: { id: true, name: true, kind: true, createdAt: true, _count: { select: { versions: true } } },
      orderBy: { name: "asc" },
    }),
  ),
  get: resourceProcedure("dataset", "VIEWER", "datasets:read").query(async ({ ctx, input }) => {
    const dataset = await ctx.db.dataset.findUniqueOrThrow({
      where: { id: input.datasetId },
      select: { id: true, name: true, kind: true, projectId: true, createdAt: true, versions: { select: datasetVersionSelect, orderBy: { version: "desc" } } },
    });
    return { ...dataset, versions: dataset.versions.map(serializeVersion), role: ctx.role };
  }),
  create: projectProcedure("EDITOR", "datasets:write")
    .input(z.object({ name: z.string().trim().min(1, "is required").max(120), kind: z.enum(["CORPUS", "PAIRS"]) }))
    .mutation(({ ctx, input }) => createDataset(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input)),
});
