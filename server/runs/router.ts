import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { caseResultSchema, metricNameSchema, metricPointSchema } from "@/contracts/zod";
import type { Prisma } from "@/server/db/generated/client";
import { DomainError } from "@/server/errors";
import { assertNotServerRun, compareRuns, createRun, listResults, logMetrics, readMetrics, recordResults, retryRun, runContext, withModelVersionNames, runSelect, transitionRun } from "./service";
import { metricsChannel, runStatusChannel, type MetricPoint, type RunStatusEvent } from "./events";
import { liveBus } from "@/server/live/bus";
import { tracked } from "@trpc/server";
import { whyQueued } from "@/server/job-queue/queue";

const MAX_POINTS_PER_BATCH = 10_000;
const MAX_RESULTS_PER_BATCH = 1_000;
const jsonObject = z.record(z.string(), z.unknown());

export const runRouter = router({
  /**
   * The project's runs, newest first, a page at a time: pass the last run's id as `cursor` for the
   * next page (a page shorter than `limit` is the last). `suiteId` keeps the runs of any version of
   * that suite, `suiteVersionId` those of one version: a suite's pages ask for these rather than
   * filter the project's newest runs, where a busy project's older runs would not be.
   */
  list: projectProcedure("VIEWER", "runs:read")
    .input(
      z.object({
        kind: z.enum(["PRETRAIN", "SFT", "LORA", "EVAL"]).optional(),
        suiteVersionId: idSchema.optional(),
        suiteId: idSchema.optional(),
        cursor: idSchema.optional(),
        limit: z.number().int().min(1).max(200).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      const runs = await ctx.db.run.findMany({
        where: { projectId: ctx.projectId, kind: input.kind, suiteVersionId: input.suiteVersionId, ...(input.suiteId ? { suiteVersion: { suiteId: input.suiteId } } : {}) },
        select: runSelect,
        // The id breaks ties between runs created in the same millisecond, so pages neither skip nor repeat.
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: input.limit,
        ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
      });
      return withModelVersionNames(ctx.db, ctx.projectId, runs);
    }),
  get: resourceProcedure("run", "VIEWER", "runs:read").query(async ({ ctx, input }) => {
    const run = await ctx.db.run.findUniqueOrThrow({ where: { id: input.runId }, select: { ...runSelect, suiteVersion: { select: { id: true, version: true, suiteId: true, caseCount: true, suite: { select: { name: true } } } }, endpoint: { select: { id: true, name: true } } } });
    return { ...run, ...(await runContext(ctx.db, run)), role: ctx.role, waiting: await whyQueued(ctx.db, run) };
  }),
  create: projectProcedure("EDITOR", "runs:write")
    .input(
      z.object({
        kind: z.enum(["PRETRAIN", "SFT", "LORA", "EVAL"]),
        target: z.enum(["BROWSER", "NODE", "ENDPOINT", "SERVER"]),
        config: jsonObject.default({}),
        suiteVersionId: idSchema.optional(),
        modelVersionId: idSchema.optional(),
        datasetVersionId: idSchema.optional(),
        /** Target ENDPOINT: the project's endpoint the server calls for each case. */
        endpointId: idSchema.optional(),
      }),
    )
    .mutation(({ ctx, input }) => createRun(ctx.db, ctx.actor, ctx.orgId, { ...input, config: input.config as Prisma.InputJsonValue, projectId: ctx.projectId })),
  transition: resourceProcedure("run", "EDITOR", "runs:write")
    .input(z.object({ status: z.enum(["RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"]), error: z.string().max(4_000).optional(), summary: jsonObject.optional() }))
    .mutation(async ({ ctx, input }) => {
      if (input.status !== "CANCELLED") assertNotServerRun((await ctx.db.run.findUniqueOrThrow({ where: { id: input.runId }, select: { target: true } })).target);
      return transitionRun(ctx.db, ctx.actor, ctx.orgId, input.runId, input.status, { error: input.error, summary: input.summary as Prisma.InputJsonValue | undefined });
    }),
  /** A failed or cancelled node or endpoint run started again as a new run with the same inputs. */
  retry: resourceProcedure("run", "EDITOR", "runs:write").mutation(({ ctx, input }) => retryRun(ctx.db, ctx.actor, ctx.orgId, input.runId)),
  logMetrics: resourceProcedure("run", "EDITOR", "runs:write")
    .input(z.object({ points: z.array(metricPointSchema).min(1).max(MAX_POINTS_PER_BATCH) }))
    .mutation(({ ctx, input }) => logMetrics(ctx.db, ctx.actor, ctx.orgId, input.runId, input.points)),
  metrics: resourceProcedure("run", "VIEWER", "runs:read")
    .input(z.object({ names: z.array(metricNameSchema).max(50).optional() }))
    .query(({ ctx, input }) => readMetrics(ctx.db, input.runId, input.names)),
  /** Server-sent events: every run of the project that is created or changes status (queued, running, ended), through any instance. */
  liveStatus: projectProcedure("VIEWER", "runs:read")
    .input(z.object({ lastEventId: z.string().max(20).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      for await (const message of liveBus(ctx.db).stream<RunStatusEvent>(runStatusChannel(ctx.projectId), signal, input.lastEventId)) yield tracked(message.id, message.payload);
    }),
  /** Server-sent events: metric points as they are logged, through any instance; a reconnecting client gets what it missed. */
  liveMetrics: resourceProcedure("run", "VIEWER", "runs:read")
    .input(z.object({ lastEventId: z.string().max(20).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      for await (const message of liveBus(ctx.db).stream<MetricPoint[]>(metricsChannel(input.runId), signal, input.lastEventId)) yield tracked(message.id, message.payload);
    }),
  recordResults: resourceProcedure("run", "EDITOR", "runs:write")
    .input(
      z.object({
        results: z
          .array(caseResultSchema)
          .min(1)
          .max(MAX_RESULTS_PER_BATCH),
      }),
    )
    .mutation(({ ctx, input }) => recordResults(ctx.db, ctx.actor, ctx.orgId, input.runId, input.results)),
  results: resourceProcedure("run", "VIEWER", "runs:read")
    .input(z.object({ onlyFailures: z.boolean().default(false), cursor: z.string().max(100).optional(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(({ ctx, input }) => listResults(ctx.db, input.runId, input)),
  compare: resourceProcedure("run", "VIEWER", "runs:read")
    .input(z.object({ baseRunId: idSchema }))
    .query(async ({ ctx, input }) => {
      if (input.baseRunId === input.runId) throw new DomainError("BAD_REQUEST", "Choose two different runs to compare.");
      return compareRuns(ctx.db, ctx.projectId, input.baseRunId, input.runId);
    }),
});
