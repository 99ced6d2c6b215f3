import { z } from "zod";
import { router } from "@/server/trpc/init";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { deny } from "@/server/auth/access";
import { idSchema } from "@/contracts/zod";
import { LabelInput, ScoreSchema } from "@/contracts/review";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import {
  addEvalResults,
  addManualItems,
  claimNextItem,
  createQueue,
  deleteQueue,
  getItemForReviewer,
  getQueue,
  labelledItemIds,
  listQueues,
  MAX_ITEM_TEXT,
  queueAgreement,
  releaseItem,
  reviewerProgress,
  submitLabel,
  updateQueue,
} from "./service";
import { exportLabels } from "./export";
import { judgeCalibrations, setCalibrationBar } from "./calibration";

const name = z.string().trim().min(1, "is required").max(120, "must be at most 120 characters");
const settings = {
  name,
  description: z.string().trim().max(4_000),
  scoreSchema: ScoreSchema,
  assignment: z.enum(["ANYONE", "NAMED", "ROUND_ROBIN"]),
  assigneeIds: z.array(idSchema).max(100),
  reviewersPerItem: z.number().int().min(1).max(10),
  lockSeconds: z.number().int().min(30, "must be at least 30 seconds").max(86_400, "must be at most a day"),
  servedSampleRate: z.number().min(0).max(1),
};
// Defaults only when creating: an update changes exactly the fields it names.
const newQueue = z.object({
  ...settings,
  description: settings.description.default(""),
  assignment: settings.assignment.default("ANYONE"),
  assigneeIds: settings.assigneeIds.default([]),
  reviewersPerItem: settings.reviewersPerItem.default(1),
  lockSeconds: settings.lockSeconds.default(600),
  servedSampleRate: settings.servedSampleRate.default(0),
});
const itemText = z.string().max(MAX_ITEM_TEXT, `must be at most ${MAX_ITEM_TEXT} characters`);

/** Labels are a person's judgement: API keys never get past the guards (scope null); this narrows the type. */
function person(actor: Actor): Actor & { type: "user" } {
  if (actor.type !== "user") deny("FORBIDDEN", "API keys cannot do this; sign in as a person.");
  return actor;
}

export const reviewRouter = router({
  list: projectProcedure("VIEWER", null).query(({ ctx }) => listQueues(ctx.db, ctx.projectId)),
  get: resourceProcedure("reviewQueue", "VIEWER", null).query(async ({ ctx, input }) => ({ ...(await getQueue(ctx.db, input.reviewQueueId)), role: ctx.role })),
  create: projectProcedure("ADMIN", null)
    .input(newQueue)
    .mutation(({ ctx, input }) => createQueue(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input)),
  update: resourceProcedure("reviewQueue", "ADMIN", null)
    .input(z.object(settings).partial())
    .mutation(({ ctx, input }) => {
      const { reviewQueueId, ...changes } = input;
      return updateQueue(ctx.db, ctx.actor, ctx.orgId, reviewQueueId, changes);
    }),
  delete: resourceProcedure("reviewQueue", "ADMIN", null).mutation(({ ctx, input }) => deleteQueue(ctx.db, ctx.actor, ctx.orgId, input.reviewQueueId)),
  /** Items added by hand (pasted input and output). */
  addItems: resourceProcedure("reviewQueue", "ADMIN", null)
    .input(z.object({ items: z.array(z.object({ input: itemText.min(1, "is required"), output: itemText, expected: itemText.optional(), clauseIds: z.array(z.string().max(64)).max(20).optional() })).min(1).max(1_000) }))
    .mutation(({ ctx, input }) => addManualItems(ctx.db, ctx.actor, ctx.orgId, input.reviewQueueId, input.items)),
  /** An eval run's results, filtered by pass/fail, score, grader, tag or clause. */
  addResults: resourceProcedure("reviewQueue", "ADMIN", null)
    .input(
      z.object({
        runId: idSchema,
        pass: z.boolean().optional(),
        grader: z.string().max(100).optional(),
        tag: z.string().max(100).optional(),
        clause: z.string().max(64).optional(),
        minScore: z.number().min(0).max(1).optional(),
        maxScore: z.number().min(0).max(1).optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      const { reviewQueueId, ...filter } = input;
      return addEvalResults(ctx.db, ctx.actor, ctx.orgId, reviewQueueId, filter);
    }),
  /** Locks and returns the caller's next item (null when none is left), with their progress. */
  next: resourceProcedure("reviewQueue", "EDITOR", null)
    .input(z.object({ after: z.number().int().min(0).optional() }))
    .mutation(async ({ ctx, input }) => {
      const reviewer = person(ctx.actor);
      const item = await claimNextItem(ctx.db, reviewer.userId, input.reviewQueueId, { after: input.after });
      if (item) {
        await ctx.db.$transaction((tx) =>
          recordAudit(tx, reviewer, { orgId: ctx.orgId, action: "review.item.lock", resourceType: "ReviewItem", resourceId: item.id, after: { queueId: item.queueId, lockExpiresAt: item.lockExpiresAt } }),
        );
      }
      return { item, progress: await reviewerProgress(ctx.db, input.reviewQueueId, reviewer.userId) };
    }),
  /** The items the caller labelled, oldest first (for "previous"). */
  mine: resourceProcedure("reviewQueue", "EDITOR", null).query(({ ctx, input }) => labelledItemIds(ctx.db, input.reviewQueueId, person(ctx.actor).userId)),
  item: resourceProcedure("reviewItem", "EDITOR", null).query(({ ctx, input }) => getItemForReviewer(ctx.db, person(ctx.actor).userId, input.reviewItemId)),
  release: resourceProcedure("reviewItem", "EDITOR", null).mutation(async ({ ctx, input }) => {
    const reviewer = person(ctx.actor);
    const { released } = await releaseItem(ctx.db, reviewer.userId, input.reviewItemId);
    if (!released) throw new DomainError("CONFLICT", "You do not hold this item.");
    await ctx.db.$transaction((tx) => recordAudit(tx, reviewer, { orgId: ctx.orgId, action: "review.item.release", resourceType: "ReviewItem", resourceId: input.reviewItemId }));
    return { released };
  }),
  label: resourceProcedure("reviewItem", "EDITOR", null)
    .input(z.object({ label: LabelInput }))
    .mutation(({ ctx, input }) => submitLabel(ctx.db, person(ctx.actor), ctx.orgId, input.reviewItemId, input.label)),
  agreement: resourceProcedure("reviewQueue", "VIEWER", null).query(({ ctx, input }) => queueAgreement(ctx.db, input.reviewQueueId)),
  /** Every judge (the endpoint grading rubric cases) with its agreement with people's labels, and the project's bar. */
  judges: projectProcedure("VIEWER", null).query(({ ctx }) => judgeCalibrations(ctx.db, ctx.projectId)),
  /** The bar a judge must reach before the release gate counts its verdicts. */
  setJudgeBar: projectProcedure("ADMIN", null)
    .input(z.object({ minKappa: z.number().min(-1).max(1).optional(), minLabels: z.number().int().min(1).max(100_000).optional() }))
    .mutation(({ ctx, input }) => setCalibrationBar(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, input)),
  /** The queue's labels as a dataset version: corrected outputs (supervised pairs) or preferences. */
  exportDataset: resourceProcedure("reviewQueue", "EDITOR", null)
    .input(z.object({ format: z.enum(["sft", "preference", "kto"]), datasetName: name }))
    .mutation(({ ctx, input }) => exportLabels(ctx.db, ctx.actor, ctx.orgId, input.reviewQueueId, input.format, input.datasetName)),
});
