// Firing one slot of a schedule: its firing record (unique per schedule and slot, the fence that makes
// a slot fire once however many instances race for it), then one eval run per suite version through
// the run service, against the alias's current version or the endpoint. A firing interrupted half-way
// (the instance stopped) is finished by whoever fires the slot next: suite versions already run are
// skipped.
import { Prisma, type PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { roleAtLeast } from "@/contracts/roles";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { createRun } from "@/server/runs/service";
import { evalTargetForModelVersion } from "@/server/runs/server-eval";

const SYSTEM = { type: "system" } as const;

const scheduleForFiring = {
  id: true,
  projectId: true,
  name: true,
  suiteVersionIds: true,
  modelId: true,
  alias: true,
  endpointId: true,
  createdById: true,
  project: { select: { orgId: true } },
} as const satisfies Prisma.EvalScheduleSelect;

export interface FiringResult {
  firingId: string;
  /** False when the slot had fired (and finished) before: nothing was started. */
  fired: boolean;
  runIds: string[];
  error: string | null;
}

/**
 * Who a scheduled firing acts as: the person who made the schedule, while they are still an EDITOR or
 * above in its organization (a schedule does not outlive its maker's right to launch runs).
 */
async function scheduleOwner(db: PrismaClient, orgId: string, userId: string): Promise<Actor | string> {
  const member = await db.membership.findUnique({ where: { orgId_userId: { orgId, userId } }, select: { role: true, user: { select: { email: true, name: true } } } });
  if (!member || !roleAtLeast(member.role, "EDITOR")) return "The person who made this schedule is no longer an EDITOR or above in this organization, so it no longer runs on its own; an ADMIN can make it again, or start it with Run now.";
  return { type: "user", userId, email: member.user.email, name: member.user.name };
}

/** What the runs evaluate: the alias's version now, or the endpoint. A string is why nothing can run. */
async function resolveTarget(db: PrismaClient, schedule: Prisma.EvalScheduleGetPayload<{ select: typeof scheduleForFiring }>) {
  if (schedule.endpointId) return { target: "ENDPOINT" as const, endpointId: schedule.endpointId, modelVersionId: undefined };
  const alias = await db.modelAlias.findUnique({ where: { modelId_name: { modelId: schedule.modelId!, name: schedule.alias! } }, select: { modelVersionId: true } });
  if (!alias) return `The model has no "${schedule.alias}" alias; set it on the model's page.`;
  return { target: await evalTargetForModelVersion(db, alias.modelVersionId), endpointId: undefined, modelVersionId: alias.modelVersionId };
}

/**
 * Fires `slot` of the schedule: records the firing (or finds it, when another instance or an earlier
 * attempt made it) and starts the runs it still lacks. `actor`: who asked (run now); null for the
 * scheduler, which acts as the schedule's maker.
 */
export async function fireSchedule(db: PrismaClient, scheduleId: string, slot: Date, options: { manual?: boolean; actor?: Actor | null } = {}): Promise<FiringResult> {
  const schedule = await db.evalSchedule.findUniqueOrThrow({ where: { id: scheduleId }, select: scheduleForFiring });
  const orgId = schedule.project.orgId;
  let firing: { id: string; completedAt: Date | null };
  let fresh = true;
  try {
    firing = await db.$transaction(async (tx) => {
      const created = await tx.scheduleFiring.create({ data: { scheduleId, slot, manual: options.manual ?? false }, select: { id: true, completedAt: true } });
      await recordAudit(tx, options.actor ?? SYSTEM, { orgId, action: options.manual ? "schedule.runNow" : "schedule.fire", resourceType: "EvalSchedule", resourceId: scheduleId, after: { firingId: created.id, slot } });
      return created;
    });
  } catch (error) {
    if (!(error instanceof Prisma.PrismaClientKnownRequestError && error.code === "P2002")) throw error;
    fresh = false;
    firing = await db.scheduleFiring.findUniqueOrThrow({ where: { scheduleId_slot: { scheduleId, slot } }, select: { id: true, completedAt: true } });
  }
  if (firing.completedAt) return { firingId: firing.id, fired: false, runIds: [], error: null };

  const finish = async (error: string | null, modelVersionId?: string) => {
    await db.scheduleFiring.update({ where: { id: firing.id }, data: { completedAt: new Date(), error, modelVersionId } });
    const runs = await db.scheduleRun.findMany({ where: { firingId: firing.id }, select: { runId: true } });
    return { firingId: firing.id, fired: fresh || runs.length > 0, runIds: runs.map((r) => r.runId), error };
  };
  const actor = options.actor ?? (await scheduleOwner(db, orgId, schedule.createdById));
  if (typeof actor === "string") return finish(actor);
  const target = await resolveTarget(db, schedule);
  if (typeof target === "string") return finish(target);

  const done = new Set((await db.scheduleRun.findMany({ where: { firingId: firing.id }, select: { suiteVersionId: true } })).map((r) => r.suiteVersionId));
  const errors: string[] = [];
  for (const suiteVersionId of schedule.suiteVersionIds) {
    if (done.has(suiteVersionId)) continue;
    try {
      const run = await createRun(db, actor, orgId, {
        projectId: schedule.projectId,
        kind: "EVAL",
        target: target.target,
        config: {},
        suiteVersionId,
        modelVersionId: target.modelVersionId,
        endpointId: target.endpointId,
      });
      await db.scheduleRun.create({ data: { scheduleId, firingId: firing.id, suiteVersionId, runId: run.id } });
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      errors.push(`suite version ${suiteVersionId}: ${error.message}`);
    }
  }
  return finish(errors.length ? errors.join(" ") : null, target.modelVersionId);
}
