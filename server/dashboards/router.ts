import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, orgProcedure, projectProcedure } from "@/server/trpc/procedures";
import { orgOverview, projectDashboard, TIME_RANGES, versionRegressions } from "./service";

const tag = z.string().trim().min(1).max(100);
const filters = z.object({ range: z.enum(TIME_RANGES).default("all"), suiteId: idSchema.optional(), tag: tag.optional(), versionIds: z.array(idSchema).max(10).optional() });

export const dashboardRouter = router({
  org: orgProcedure("VIEWER", "runs:read").query(({ ctx }) => orgOverview(ctx.db, ctx.orgId)),
  project: projectProcedure("VIEWER", "runs:read")
    .input(filters)
    .query(({ ctx, input }) => projectDashboard(ctx.db, ctx.projectId, { range: input.range, suiteId: input.suiteId, tag: input.tag, versionIds: input.versionIds })),
  regressions: projectProcedure("VIEWER", "runs:read")
    .input(z.object({ baseVersionId: idSchema, candidateVersionId: idSchema, suiteId: idSchema.optional(), tag: tag.optional(), limit: z.number().int().min(1).max(500).default(50) }))
    .query(({ ctx, input }) => versionRegressions(ctx.db, ctx.projectId, input)),
});
