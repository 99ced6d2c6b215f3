import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { configureServedLog, getServedRequest, listServedRequests, MAX_RETENTION_DAYS, servedLogSettings } from "./request-log";

export const servedLogRouter = router({
  settings: projectProcedure("VIEWER", "models:read").query(({ ctx }) => servedLogSettings(ctx.db, ctx.projectId)),
  configure: projectProcedure("ADMIN", null)
    .input(z.object({ enabled: z.boolean().optional(), retentionDays: z.number().int().min(1, "must be at least a day").max(MAX_RETENTION_DAYS).optional() }))
    .mutation(({ ctx, input }) => configureServedLog(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input)),
  list: projectProcedure("VIEWER", "models:read")
    .input(z.object({ before: z.date().optional(), limit: z.number().int().min(1).max(200).default(50) }))
    .query(({ ctx, input }) => listServedRequests(ctx.db, ctx.projectId, input)),
  get: resourceProcedure("servedRequest", "VIEWER", "models:read").query(({ ctx, input }) => getServedRequest(ctx.db, input.servedRequestId)),
});
