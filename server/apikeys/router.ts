import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, orgProcedure } from "@/server/trpc/procedures";
import { API_SCOPES } from "@/contracts/roles";
import { apiKeySelect, createApiKey, revokeApiKey } from "./service";

export const apiKeyRouter = router({
  list: orgProcedure("ADMIN", null).query(({ ctx }) =>
    ctx.db.apiKey.findMany({ where: { orgId: ctx.orgId }, select: apiKeySelect, orderBy: { createdAt: "desc" } }),
  ),
  create: orgProcedure("ADMIN", null)
    .input(
      z.object({
        name: z.string().trim().min(1, "is required").max(80, "must be at most 80 characters"),
        scopes: z.array(z.enum(API_SCOPES)).min(1, "choose at least one scope").max(API_SCOPES.length),
        expiresInDays: z.number().int().min(1).max(3650).optional(),
        /** Limits the key to one project of the organization. */
        projectId: idSchema.optional(),
        /** An agent's key (MCP): it also cannot request promotions or publish suite or policy versions. */
        agent: z.boolean().default(false),
      }),
    )
    .mutation(({ ctx, input }) =>
      createApiKey(ctx.db, ctx.actor, { orgId: ctx.orgId, name: input.name, scopes: [...new Set(input.scopes)], expiresInDays: input.expiresInDays, projectId: input.projectId, agent: input.agent }),
    ),
  revoke: orgProcedure("ADMIN", null)
    .input(z.object({ keyId: idSchema }))
    .mutation(({ ctx, input }) => revokeApiKey(ctx.db, ctx.actor, ctx.orgId, input.keyId)),
});
