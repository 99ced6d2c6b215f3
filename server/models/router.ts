import { z } from "zod";
import { ChatMessageSchema } from "@/contracts/eval-case";
import { chatOnNodes } from "@/server/serving/playground";
import { router } from "@/server/trpc/init";
import { idSchema, projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import type { Prisma } from "@/server/db/generated/client";
import { createModel, createModelVersion, decidePromotion, gateModelVersion, latestScoresByVersion, modelVersionSelect, requestPromotion, setAlias } from "./service";

const name = z.string().trim().min(1, "is required").max(100).regex(/^[\w .:-]+$/, "may use letters, digits, spaces and . : _ -");
const aliasName = z.string().trim().regex(/^[a-z][a-z0-9-]{0,31}$/, "must be lowercase, like production or candidate");
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, "must be a sha256 in hex");

export const modelRouter = router({
  list: projectProcedure("VIEWER", "models:read").query(({ ctx }) =>
    ctx.db.model.findMany({
      where: { projectId: ctx.projectId },
      select: { id: true, name: true, createdAt: true, aliases: { select: { name: true, modelVersionId: true, protected: true } }, _count: { select: { versions: true } } },
      orderBy: { name: "asc" },
    }),
  ),
  get: resourceProcedure("model", "VIEWER", "models:read").query(async ({ ctx, input }) => {
    const model = await ctx.db.model.findUniqueOrThrow({
      where: { id: input.modelId },
      select: {
        id: true,
        name: true,
        projectId: true,
        createdAt: true,
        versions: { select: modelVersionSelect, orderBy: { version: "asc" } },
        aliases: { select: { id: true, name: true, modelVersionId: true, protected: true, updatedAt: true } },
      },
    });
    const scores = await latestScoresByVersion(ctx.db, model.id);
    return { ...model, versions: model.versions.map((v) => ({ ...v, sizeBytes: v.sizeBytes === null ? null : Number(v.sizeBytes) })), scores, role: ctx.role };
  }),
  create: projectProcedure("EDITOR", "models:write")
    .input(z.object({ name }))
    .mutation(({ ctx, input }) => createModel(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input.name)),
  createVersion: resourceProcedure("model", "EDITOR", "models:write")
    .input(
      z.object({
        config: z.record(z.string(), z.unknown()),
        parentVersionId: idSchema.optional(),
        runId: idSchema.optional(),
        datasetVersionId: idSchema.optional(),
        policyVersionIds: z.array(idSchema).max(100).default([]),
        suiteVersionIds: z.array(idSchema).max(100).default([]),
        artifactSha256: sha256.optional(),
        sizeBytes: z.number().int().min(0).optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { modelId, ...rest } = input;
      const version = await createModelVersion(ctx.db, ctx.actor, ctx.orgId, modelId, { ...rest, config: rest.config as Prisma.InputJsonValue });
      return { ...version, sizeBytes: version.sizeBytes === null ? null : Number(version.sizeBytes) };
    }),
  setAlias: resourceProcedure("model", "EDITOR", "models:write")
    .input(z.object({ alias: aliasName, modelVersionId: idSchema }))
    .mutation(({ ctx, input }) => setAlias(ctx.db, ctx.actor, ctx.orgId, input.modelId, input.alias, input.modelVersionId)),
  gate: resourceProcedure("model", "VIEWER", "runs:read")
    .input(z.object({ candidateVersionId: idSchema, baseline: z.string().trim().max(64).optional(), suiteVersionId: idSchema }))
    .query(({ ctx, input }) => gateModelVersion(ctx.db, input.modelId, input, { strict: true })),
  promotions: resourceProcedure("model", "VIEWER", "models:read").query(({ ctx, input }) =>
    ctx.db.promotionRequest.findMany({ where: { modelId: input.modelId }, orderBy: { createdAt: "desc" }, take: 50 }),
  ),
  requestPromotion: resourceProcedure("model", "EDITOR", "models:write", { agentKeys: false })
    .input(z.object({ alias: aliasName, modelVersionId: idSchema, suiteVersionId: idSchema }))
    .mutation(({ ctx, input }) => requestPromotion(ctx.db, ctx.actor, ctx.orgId, input.modelId, input)),
  approvePromotion: resourceProcedure("promotion", "ADMIN", null).mutation(({ ctx, input }) => decidePromotion(ctx.db, ctx.actor, ctx.orgId, input.promotionId, "APPROVED")),
  rejectPromotion: resourceProcedure("promotion", "ADMIN", null).mutation(({ ctx, input }) => decidePromotion(ctx.db, ctx.actor, ctx.orgId, input.promotionId, "REJECTED")),
  /** The playground on the GPU nodes: one chat turn, built and routed as /v1/chat/completions does. */
  chat: resourceProcedure("modelVersion", "EDITOR", "models:invoke")
    .input(
      z.object({
        messages: z.array(ChatMessageSchema).min(1).max(100),
        maxTokens: z.number().int().min(1).max(4_096),
        temperature: z.number().min(0).max(2),
        topK: z.number().int().min(0).max(1_000).optional(),
        seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
      }),
    )
    .mutation(({ ctx, input }) => chatOnNodes(ctx.db, ctx.actor, ctx.orgId, input.modelVersionId, input)),
});
