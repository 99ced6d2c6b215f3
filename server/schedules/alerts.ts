// What a scheduled run found once it ended: its pass rate (in points) against the previous successful
// run of the same schedule and suite version, and the cases that went from pass to fail (the release
// gate's own comparison). A drop of more than the schedule's margin, any regressed case, or a run that
// failed alerts: one notification for every member of the organization (VIEWERs included: they are the
// managers and auditors who watch for regressions) and, when the schedule has a webhook, one delivery.
// The evaluation is claimed by a conditional update inside the transaction that writes the alert, so
// instances evaluating the same run alert once.
import type { PrismaClient } from "@/server/db/generated/client";
import { recordAudit } from "@/server/audit/service";
import { caseOutcomes } from "@/server/runs/service";
import { gate } from "@/server/runs/gate";

const SYSTEM = { type: "system" } as const;
/** Regressed case ids carried in an alert at most (the run's page lists them all). */
const MAX_CASES_IN_ALERT = 50;

export interface DriftAlert {
  type: "drift.alert";
  reason: "drop" | "regression" | "run_failed";
  schedule: { id: string; name: string };
  project: { id: string; orgId: string };
  suiteVersionId: string;
  run: { id: string; status: string; url: string };
  previousRun: { id: string; url: string } | null;
  /** Pass rates in percentage points (0-100). */
  score: number | null;
  previousScore: number | null;
  drop: number | null;
  marginPoints: number;
  regressedCases: string[];
  regressedCount: number;
  modelVersionId: string | null;
  endpointId: string | null;
  at: string;
}

const passRatePoints = (outcomes: { pass: boolean }[]) => (outcomes.length ? (100 * outcomes.filter((o) => o.pass).length) / outcomes.length : null);

/** Evaluates every scheduled run that ended and has not been evaluated; returns how many alerted. */
export async function evaluateFinishedRuns(db: PrismaClient, options: { now: Date; publicUrl: string; limit?: number }): Promise<number> {
  const pending = await db.scheduleRun.findMany({
    where: { evaluatedAt: null, run: { status: { in: ["SUCCEEDED", "FAILED", "CANCELLED"] } } },
    orderBy: { createdAt: "asc" },
    take: options.limit ?? 20,
    select: { id: true, scheduleId: true, suiteVersionId: true, runId: true, createdAt: true, run: { select: { status: true, modelVersionId: true, endpointId: true, error: true } } },
  });
  let alerted = 0;
  for (const sr of pending) {
    try {
      if (await evaluateRun(db, sr, options)) alerted++;
    } catch (error) {
      // Left unevaluated, so the next tick tries again; the others go on.
      console.error(`[hearth] scheduled run ${sr.runId}: evaluation failed:`, error);
    }
  }
  return alerted;
}

async function evaluateRun(
  db: PrismaClient,
  sr: { id: string; scheduleId: string; suiteVersionId: string; runId: string; createdAt: Date; run: { status: string; modelVersionId: string | null; endpointId: string | null; error: string | null } },
  options: { now: Date; publicUrl: string },
): Promise<boolean> {
  const schedule = await db.evalSchedule.findUniqueOrThrow({
    where: { id: sr.scheduleId },
    select: { id: true, name: true, projectId: true, marginPoints: true, webhookUrl: true, project: { select: { orgId: true } } },
  });
  const runUrl = (id: string) => `${options.publicUrl}/orgs/${schedule.project.orgId}/projects/${schedule.projectId}/runs/${id}`;
  let score: number | null = null;
  let previous: { runId: string; score: number | null } | null = null;
  let regressed: string[] = [];
  let reason: DriftAlert["reason"] | null = null;
  if (sr.run.status === "SUCCEEDED") {
    const outcomes = await caseOutcomes(db, sr.runId, sr.suiteVersionId);
    score = passRatePoints(outcomes);
    previous = await db.scheduleRun.findFirst({
      where: { scheduleId: sr.scheduleId, suiteVersionId: sr.suiteVersionId, id: { not: sr.id }, createdAt: { lte: sr.createdAt }, evaluatedAt: { not: null }, score: { not: null }, run: { status: "SUCCEEDED" } },
      orderBy: { createdAt: "desc" },
      select: { runId: true, score: true },
    });
    if (previous) {
      const report = gate(outcomes, await caseOutcomes(db, previous.runId, sr.suiteVersionId), {});
      regressed = report.regressions.map((r) => r.caseId).sort();
      if (score !== null && previous.score !== null && previous.score - score > schedule.marginPoints) reason = "drop";
      else if (regressed.length) reason = "regression";
    }
  } else if (sr.run.status === "FAILED") reason = "run_failed";

  const drop = score !== null && previous?.score != null ? previous.score - score : null;
  const alert: DriftAlert | null = reason
    ? {
        type: "drift.alert",
        reason,
        schedule: { id: schedule.id, name: schedule.name },
        project: { id: schedule.projectId, orgId: schedule.project.orgId },
        suiteVersionId: sr.suiteVersionId,
        run: { id: sr.runId, status: sr.run.status, url: runUrl(sr.runId) },
        previousRun: previous ? { id: previous.runId, url: runUrl(previous.runId) } : null,
        score,
        previousScore: previous?.score ?? null,
        drop,
        marginPoints: schedule.marginPoints,
        regressedCases: regressed.slice(0, MAX_CASES_IN_ALERT),
        regressedCount: regressed.length,
        modelVersionId: sr.run.modelVersionId,
        endpointId: sr.run.endpointId,
        at: options.now.toISOString(),
      }
    : null;

  return db.$transaction(async (tx) => {
    const claimed = await tx.scheduleRun.updateMany({
      where: { id: sr.id, evaluatedAt: null },
      data: { evaluatedAt: options.now, score, previousRunId: previous?.runId ?? null, previousScore: previous?.score ?? null, regressions: regressed.length, alerted: alert !== null },
    });
    if (claimed.count !== 1 || !alert) return false;
    const { title, body } = describeAlert(alert);
    const members = await tx.membership.findMany({ where: { orgId: schedule.project.orgId }, select: { userId: true } });
    const link = `/orgs/${schedule.project.orgId}/projects/${schedule.projectId}/runs/${sr.runId}`;
    await tx.notification.createMany({ data: members.map((m) => ({ userId: m.userId, projectId: schedule.projectId, kind: alert.type, title, body, link })) });
    if (schedule.webhookUrl) {
      await tx.webhookDelivery.create({ data: { scheduleId: schedule.id, scheduleRunId: sr.id, url: schedule.webhookUrl, body: JSON.stringify(alert), nextAttemptAt: options.now } });
    }
    await recordAudit(tx, SYSTEM, { orgId: schedule.project.orgId, action: "schedule.alert", resourceType: "EvalSchedule", resourceId: schedule.id, after: { runId: sr.runId, reason, score, previousScore: alert.previousScore, regressed: regressed.length, notified: members.length, webhook: schedule.webhookUrl !== null } });
    return true;
  });
}

const points = (n: number) => `${n.toFixed(1)}%`;

/** The notification's words. */
export function describeAlert(alert: DriftAlert): { title: string; body: string } {
  const title =
    alert.reason === "run_failed"
      ? `${alert.schedule.name}: the scheduled run failed`
      : alert.reason === "drop"
        ? `${alert.schedule.name}: pass rate fell ${alert.drop!.toFixed(1)} points`
        : `${alert.schedule.name}: ${alert.regressedCount} case${alert.regressedCount === 1 ? "" : "s"} regressed`;
  const parts: string[] = [];
  if (alert.score !== null && alert.previousScore !== null) parts.push(`Pass rate ${points(alert.previousScore)} → ${points(alert.score)} (margin ${alert.marginPoints} points).`);
  if (alert.regressedCount) parts.push(`Regressed: ${alert.regressedCases.slice(0, 5).join(", ")}${alert.regressedCount > 5 ? `, and ${alert.regressedCount - 5} more` : ""}.`);
  if (alert.reason === "run_failed") parts.push("Open the run for its error.");
  return { title, body: parts.join(" ") };
}
