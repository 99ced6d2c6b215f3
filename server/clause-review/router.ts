import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { deny } from "@/server/auth/access";
import { listProjectFlags, listSuiteFlags, resolveFlag } from "./service";

export const caseReviewRouter = router({
  /** The suite's cases that need review after a policy change (open flags), for the suite editor. */
  suite: resourceProcedure("suite", "VIEWER", "suites:read").query(({ ctx, input }) => listSuiteFlags(ctx.db, input.suiteId)),
  /** The project's open flags, newest first. */
  project: projectProcedure("VIEWER", "suites:read")
    .input(z.object({ limit: z.number().int().min(1).max(500).default(100) }))
    .query(({ ctx, input }) => listProjectFlags(ctx.db, ctx.projectId, input.limit)),
  /** Marks a flagged case reviewed: a person's judgement, as a review label is, so no API key. */
  resolve: resourceProcedure("caseReviewFlag", "EDITOR", null).mutation(({ ctx, input }) => {
    const actor = ctx.actor;
    if (actor.type !== "user") deny("FORBIDDEN", "API keys cannot do this; sign in as a person.");
    return resolveFlag(ctx.db, actor, ctx.orgId, input.caseReviewFlagId);
  }),
});
