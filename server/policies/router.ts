import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { createPolicy, diffPolicyVersions, getPolicy, getPolicyVersion, listPolicies, projectClauses, publishPolicyVersion, updatePolicyDraft } from "./service";

const MAX_POLICY_BYTES = 1_000_000;
const title = z.string().trim().min(1, "is required").max(200, "must be at most 200 characters");
const content = z.string().max(MAX_POLICY_BYTES, "must be at most 1 MB");
const versionNumber = z.number().int().min(1);

export const policyRouter = router({
  list: projectProcedure("VIEWER", "policies:read").query(({ ctx }) => listPolicies(ctx.db, ctx.projectId)),
  get: resourceProcedure("policy", "VIEWER", "policies:read").query(({ ctx, input }) => getPolicy(ctx.db, input.policyId)),
  /** The project's clauses with their text, for the suite editor's clause picker. */
  clauses: projectProcedure("VIEWER", "policies:read").query(({ ctx }) => projectClauses(ctx.db, ctx.projectId)),
  create: projectProcedure("EDITOR", "policies:write")
    .input(
      z.object({
        key: z.string().trim().regex(/^[a-z0-9][a-z0-9-]{0,63}$/, "must be lowercase letters, digits and dashes, like refunds"),
        title,
        draft: content.default(""),
      }),
    )
    .mutation(({ ctx, input }) => createPolicy(ctx.db, ctx.actor, ctx.orgId, { projectId: ctx.projectId, key: input.key, title: input.title, draft: input.draft })),
  update: resourceProcedure("policy", "EDITOR", "policies:write")
    .input(z.object({ title: title.optional(), draft: content.optional() }))
    .mutation(({ ctx, input }) => updatePolicyDraft(ctx.db, ctx.actor, ctx.orgId, input.policyId, { title: input.title, draft: input.draft })),
  publish: resourceProcedure("policy", "EDITOR", "policies:write", { agentKeys: false })
    .input(z.object({ message: z.string().trim().min(1, "describe what changed").max(500) }))
    .mutation(({ ctx, input }) => publishPolicyVersion(ctx.db, ctx.actor, ctx.orgId, input.policyId, input.message)),
  version: resourceProcedure("policy", "VIEWER", "policies:read")
    .input(z.object({ version: versionNumber }))
    .query(({ ctx, input }) => getPolicyVersion(ctx.db, input.policyId, input.version)),
  diff: resourceProcedure("policy", "VIEWER", "policies:read")
    .input(z.object({ from: z.union([versionNumber, z.literal("empty")]), to: z.union([versionNumber, z.literal("draft")]) }))
    .query(({ ctx, input }) => diffPolicyVersions(ctx.db, input.policyId, input.from, input.to)),
});
