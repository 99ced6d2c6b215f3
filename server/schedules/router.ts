import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import { createSchedule, deleteSchedule, getSchedule, listSchedules, updateSchedule } from "./service";
import { fireSchedule } from "./fire";

const name = z.string().trim().min(1, "is required").max(120, "must be at most 120 characters");
const target = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("alias"), modelId: idSchema, alias: z.string().trim().min(1, "is required").max(64, "must be at most 64 characters").regex(/^[A-Za-z0-9._-]+$/, "may hold letters, digits, '.', '_' and '-'") }),
  z.object({ kind: z.literal("endpoint"), endpointId: idSchema }),
]);
const webhookSecret = z.string().min(16, "must be at least 16 characters").max(200, "must be at most 200 characters");
const fields = {
  name,
  suiteVersionIds: z.array(idSchema).min(1, "choose at least one suite version").max(20, "at most 20 suite versions"),
  target,
  interval: z.enum(["HOURLY", "DAILY"]),
  offsetMinutes: z.number().int().min(0).max(1_439),
  marginPoints: z.number().min(0, "must be at least 0").max(100, "must be at most 100"),
  webhookUrl: z.string().trim().max(2_000, "is too long").nullable(),
};

// Schedules hold an outbound URL and its secret, as endpoints do: ADMINs (people, never API keys) make,
// change, pause and delete them. Starting one now is launching runs: EDITORs and keys with runs:write.
export const scheduleRouter = router({
  list: projectProcedure("VIEWER", "runs:read").query(({ ctx }) => listSchedules(ctx.db, ctx.projectId)),
  get: resourceProcedure("schedule", "VIEWER", "runs:read").query(async ({ ctx, input }) => ({ ...(await getSchedule(ctx.db, input.scheduleId)), role: ctx.role })),
  create: projectProcedure("ADMIN", null)
    .input(z.object({ ...fields, offsetMinutes: fields.offsetMinutes.default(0), marginPoints: fields.marginPoints.default(5), webhookUrl: fields.webhookUrl.default(null), webhookSecret: webhookSecret.optional() }))
    .mutation(({ ctx, input }) => createSchedule(ctx.db, ctx.actor, ctx.orgId, ctx.projectId, { ...input, webhookUrl: input.webhookUrl || null })),
  update: resourceProcedure("schedule", "ADMIN", null)
    .input(z.object({ ...fields, webhookSecret, rotateWebhookSecret: z.boolean() }).partial())
    .mutation(({ ctx, input: { scheduleId, ...changes } }) => updateSchedule(ctx.db, ctx.actor, ctx.orgId, scheduleId, { ...changes, webhookUrl: changes.webhookUrl === undefined ? undefined : changes.webhookUrl || null })),
  /** Pause (false) or resume (true); a resumed schedule starts at its next slot. */
  setEnabled: resourceProcedure("schedule", "ADMIN", null)
    .input(z.object({ enabled: z.boolean() }))
    .mutation(({ ctx, input }) => updateSchedule(ctx.db, ctx.actor, ctx.orgId, input.scheduleId, { enabled: input.enabled })),
  delete: resourceProcedure("schedule", "ADMIN", null).mutation(({ ctx, input }) => deleteSchedule(ctx.db, ctx.actor, ctx.orgId, input.scheduleId)),
  /** Fires the schedule now, as the caller, outside its timetable (its next slot is unchanged). */
  runNow: resourceProcedure("schedule", "EDITOR", "runs:write").mutation(({ ctx, input }) => fireSchedule(ctx.db, input.scheduleId, new Date(), { manual: true, actor: ctx.actor })),
});
