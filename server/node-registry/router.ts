import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, orgProcedure } from "@/server/trpc/procedures";
import { queueSettings } from "@/server/job-queue/settings";
import { createNodeToken, listNodeTokens, revokeNodeToken } from "./tokens";
import { listNodeJobs, listNodes } from "./service";

export const nodeRouter = router({
  /** Everyone in the organization sees its GPU nodes and what they run. */
  list: orgProcedure("VIEWER", "runs:read").query(async ({ ctx }) => ({
    nodes: await listNodes(ctx.db, ctx.orgId),
    offlineAfterMs: queueSettings().offlineAfterMs,
  })),
  /** Jobs queued for or running on nodes, and those that ended in the last day. */
  jobs: orgProcedure("VIEWER", "runs:read").query(({ ctx }) => listNodeJobs(ctx.db, ctx.orgId)),
  tokens: orgProcedure("ADMIN", null).query(({ ctx }) => listNodeTokens(ctx.db, ctx.orgId)),
  createToken: orgProcedure("ADMIN", null)
    .input(z.object({ name: z.string().trim().min(1, "is required").max(80, "must be at most 80 characters") }))
    .mutation(({ ctx, input }) => createNodeToken(ctx.db, ctx.actor, ctx.orgId, input.name)),
  revokeToken: orgProcedure("ADMIN", null)
    .input(z.object({ tokenId: idSchema }))
    .mutation(({ ctx, input }) => revokeNodeToken(ctx.db, ctx.actor, ctx.orgId, input.tokenId)),
});
