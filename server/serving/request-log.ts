// The served-request log: while a project has it on (off by default; an ADMIN turns it on), every
// request served at /v1 from the project's models is kept with its prompt, output, model version and
// time, for its retention in days; the sweep deletes what is older. Review queues may sample it.
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { insertItems } from "@/server/review/service";
import { runPeriodically } from "@/server/lib/periodic";

export const MAX_RETENTION_DAYS = 3_650;
const MAX_LOGGED_CHARS = 200_000;

export interface ServedEntry {
  projectId: string;
  modelVersionId: string;
  model: string;
  kind: "chat" | "completion";
  /** Text, or the chat messages as JSON. */
  prompt: string;
  output: string;
  apiKeyId: string | null;
  promptTokens: number;
  completionTokens: number;
}

/**
 * Keeps a served request when its project logs them (nothing is written otherwise), and adds it to
 * the project's review queues that sample served requests, each with its own rate.
 */
export async function logServedRequest(db: PrismaClient, entry: ServedEntry, options: { random?: () => number } = {}): Promise<string | null> {
  const project = await db.project.findUnique({ where: { id: entry.projectId }, select: { servedLogEnabled: true } });
  if (!project?.servedLogEnabled) return null;
  const random = options.random ?? Math.random;
  return db.$transaction(async (tx) => {
    const row = await tx.servedRequest.create({
      data: { ...entry, prompt: entry.prompt.slice(0, MAX_LOGGED_CHARS), output: entry.output.slice(0, MAX_LOGGED_CHARS) },
      select: { id: true },
    });
    const queues = await tx.reviewQueue.findMany({ where: { projectId: entry.projectId, servedSampleRate: { gt: 0 } }, select: { id: true, servedSampleRate: true } });
    for (const queue of queues) {
      if (random() >= queue.servedSampleRate) continue;
      await insertItems(tx, queue.id, [{ source: "SERVED_REQUEST", sourceId: row.id, modelVersionId: entry.modelVersionId, input: entry.prompt, output: entry.output }]);
    }
    return row.id;
  });
}

/** Deletes every logged request older than its project's retention (by the database's clock); returns how many. */
export async function sweepServedRequests(db: PrismaClient): Promise<number> {
  return db.$executeRaw`
    DELETE FROM "ServedRequest" s USING "Project" p
    WHERE s."projectId" = p.id AND s."createdAt" < now() - make_interval(days => p."servedLogRetentionDays")`;
}

export async function servedLogSettings(db: PrismaClient, projectId: string) {
  const project = await db.project.findUniqueOrThrow({ where: { id: projectId }, select: { servedLogEnabled: true, servedLogRetentionDays: true } });
  const stored = await db.servedRequest.count({ where: { projectId } });
  return { enabled: project.servedLogEnabled, retentionDays: project.servedLogRetentionDays, stored };
}

export async function configureServedLog(db: PrismaClient, actor: Actor, orgId: string, projectId: string, settings: { enabled?: boolean; retentionDays?: number }) {
  return db.$transaction(async (tx) => {
    const select = { servedLogEnabled: true, servedLogRetentionDays: true } as const;
    const before = await tx.project.findUniqueOrThrow({ where: { id: projectId }, select });
    const after = await tx.project.update({ where: { id: projectId }, data: { servedLogEnabled: settings.enabled, servedLogRetentionDays: settings.retentionDays }, select });
    await recordAudit(tx, actor, { orgId, action: "serving.log.configure", resourceType: "Project", resourceId: projectId, before, after });
    return { enabled: after.servedLogEnabled, retentionDays: after.servedLogRetentionDays };
  });
}

const entrySelect = { id: true, modelVersionId: true, model: true, kind: true, prompt: true, output: true, promptTokens: true, completionTokens: true, createdAt: true } as const;

export async function listServedRequests(db: PrismaClient, projectId: string, options: { before?: Date; limit: number }) {
  return db.servedRequest.findMany({ where: { projectId, createdAt: options.before ? { lt: options.before } : undefined }, select: entrySelect, orderBy: { createdAt: "desc" }, take: options.limit });
}

export async function getServedRequest(db: PrismaClient, id: string) {
  return db.servedRequest.findUniqueOrThrow({ where: { id }, select: { ...entrySelect, projectId: true } });
}

/** The periodic sweep (hourly by default): every instance may run it; deleting twice deletes nothing. */
export function startServedLogSweeper(db: () => PrismaClient, everyMs = Number(process.env.HEARTH_SERVED_LOG_SWEEP_MS || 3_600_000)): { stop(): Promise<void> } {
  return runPeriodically("served-request log sweep", everyMs, () => sweepServedRequests(db()));
}
