import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { listServableModels } from "@/server/serving/models";
import { ChatMessageSchema } from "@/contracts/eval-case";
import { chatWithEndpoint, checkEndpoint, createEndpoint, deleteEndpoint, getEndpoint, listEndpoints, updateEndpoint } from "./service";

const fields = {
  name: z.string().trim().min(1, "is required").max(80, "must be at most 80 characters"),
  baseUrl: z.string().trim().min(1, "is required").max(2_000, "is too long"),
  model: z.string().trim().min(1, "is required").max(200, "is too long"),
  maxConcurrency: z.number().int().min(1, "must be at least 1").max(64, "must be at most 64"),
  timeoutMs: z.number().int().min(1_000, "must be at least 1000 ms").max(600_000, "must be at most 600000 ms (10 minutes)"),
};
const apiKey = z.string().trim().min(1, "is empty").max(4_000, "is too long");

// Registering a URL the server will fetch is an SSRF risk: people with the ADMIN role only, never API keys.
export const endpointRouter = router({
  list: projectProcedure("VIEWER", "models:read").query(({ ctx }) => listEndpoints(ctx.db, ctx.projectId)),
  /** The ids this project's models answer to at /v1 (Hearth's own OpenAI-compatible API). */
  servedModels: projectProcedure("VIEWER", "models:read").query(async ({ ctx }) =>
    (await listServableModels(ctx.db, { orgId: ctx.orgId, projectId: ctx.projectId })).map(({ id, created }) => ({ id, created })),
  ),
  get: resourceProcedure("endpoint", "VIEWER", "models:read").query(({ ctx, input }) => getEndpoint(ctx.db, input.endpointId)),
  create: projectProcedure("ADMIN", null)
    .input(z.object({ ...fields, maxConcurrency: fields.maxConcurrency.default(4), timeoutMs: fields.timeoutMs.default(60_000), apiKey: apiKey.optional() }))
    .mutation(({ ctx, input }) => createEndpoint(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input)),
  update: resourceProcedure("endpoint", "ADMIN", null)
    .input(
      z.object({
        name: fields.name.optional(),
        baseUrl: fields.baseUrl.optional(),
        model: fields.model.optional(),
        maxConcurrency: fields.maxConcurrency.optional(),
        timeoutMs: fields.timeoutMs.optional(),
        /** A new key; null removes the stored one; absent keeps it. */
        apiKey: apiKey.nullable().optional(),
      }),
    )
    .mutation(({ ctx, input: { endpointId, ...changes } }) => updateEndpoint(ctx.db, ctx.actor, ctx.orgId, endpointId, changes)),
  delete: resourceProcedure("endpoint", "ADMIN", null).mutation(({ ctx, input }) => deleteEndpoint(ctx.db, ctx.actor, ctx.orgId, input.endpointId)),
  /** Sends GET <baseUrl>/models once, to see that the endpoint answers and serves the model. */
  check: resourceProcedure("endpoint", "ADMIN", null).mutation(({ ctx, input }) => checkEndpoint(ctx.db, ctx.actor, ctx.orgId, input.endpointId)),
  /** The playground: one chat turn to a registered endpoint (its URL was vetted when an ADMIN registered it). */
  chat: resourceProcedure("endpoint", "EDITOR", "models:invoke")
    .input(
      z.object({
        messages: z.array(ChatMessageSchema).min(1).max(100),
        maxTokens: z.number().int().min(1).max(4_096),
        temperature: z.number().min(0).max(2),
        seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
      }),
    )
    .mutation(({ ctx, input }) => chatWithEndpoint(ctx.db, ctx.actor, ctx.orgId, input.endpointId, input)),
});
