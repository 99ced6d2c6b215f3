// Drift watch: a project's schedules that re-run chosen suite versions against a model alias (say
// `production`) or an endpoint every hour or day. ADMINs make, change, pause and delete them (each
// holds an outbound webhook URL and its signing secret, like an endpoint); EDITORs and keys with
// runs:write start one now; everyone in the project reads them. The webhook secret is shown once, kept
// AES-256-GCM encrypted under the server key, and never returned, logged or audited again.
import { randomBytes } from "node:crypto";
import type { Prisma, PrismaClient, ScheduleInterval } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { actorId } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { encryptSecret } from "@/server/endpoints/crypto";
import { checkDestination, OutboundRequestError, SsrfRefused, type GuardOptions } from "@/server/endpoints/ssrf";
import { checkOffset, nextSlot } from "./slots";

/** What a schedule's webhook secret is encrypted for (bound into the ciphertext). */
export const webhookSecretContext = (scheduleId: string) => `schedule-webhook:${scheduleId}`;

export type ScheduleTarget = { kind: "alias"; modelId: string; alias: string } | { kind: "endpoint"; endpointId: string };

export interface ScheduleFields {
  name: string;
  suiteVersionIds: string[];
  target: ScheduleTarget;
  interval: ScheduleInterval;
  offsetMinutes: number;
  marginPoints: number;
  /** null: no webhook. */
  webhookUrl: string | null;
}

const columns = {
  id: true,
  projectId: true,
  name: true,
  suiteVersionIds: true,
  modelId: true,
  alias: true,
  endpointId: true,
  interval: true,
  offsetMinutes: true,
  marginPoints: true,
  webhookUrl: true,
  webhookSecretCiphertext: true,
  enabled: true,
  nextRunAt: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.EvalScheduleSelect;

type Row = Prisma.EvalScheduleGetPayload<{ select: typeof columns }>;
export type PublicSchedule = Omit<Row, "webhookSecretCiphertext"> & { hasWebhookSecret: boolean };

/** What may leave the server about a schedule: everything but the secret. */
function toPublic({ webhookSecretCiphertext, ...rest }: Row): PublicSchedule {
  return { ...rest, hasWebhookSecret: webhookSecretCiphertext !== null };
}

/** A webhook URL as stored: http(s), no credentials, no fragment; refused when the server must not reach it. */
async function checkWebhookUrl(text: string, guard?: GuardOptions): Promise<string> {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new DomainError("BAD_REQUEST", "webhookUrl: is not a URL (e.g. https://hooks.example.com/hearth).");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new DomainError("BAD_REQUEST", "webhookUrl: must start with http:// or https://.");
  if (url.username || url.password) throw new DomainError("BAD_REQUEST", "webhookUrl: must not contain a user name or password; requests are signed with the webhook secret.");
  if (url.hash) throw new DomainError("BAD_REQUEST", "webhookUrl: must not have a fragment.");
  try {
    await checkDestination(url, guard);
  } catch (error) {
    if (error instanceof SsrfRefused || error instanceof OutboundRequestError) throw new DomainError("BAD_REQUEST", `webhookUrl: ${error.message}`);
    throw error;
  }
  return url.toString();
}

/** The suite versions, model and endpoint a schedule names must be in its project; anything else reads as not found. */
async function checkReferences(db: PrismaClient, projectId: string, fields: Pick<ScheduleFields, "suiteVersionIds" | "target">) {
  const ids = [...new Set(fields.suiteVersionIds)];
  const found = await db.suiteVersion.count({ where: { id: { in: ids }, suite: { projectId } } });
  if (found !== ids.length) throw new DomainError("NOT_FOUND", "suiteVersionIds: a suite version was not found in this project.");
  if (fields.target.kind === "alias") {
    const model = await db.model.findFirst({ where: { id: fields.target.modelId, projectId }, select: { id: true } });
    if (!model) throw new DomainError("NOT_FOUND", "Model not found.");
  } else {
    const endpoint = await db.endpoint.findFirst({ where: { id: fields.target.endpointId, projectId }, select: { id: true } });
    if (!endpoint) throw new DomainError("NOT_FOUND", "Endpoint not found.");
  }
  return ids;
}

function targetColumns(target: ScheduleTarget) {
  return target.kind === "alias" ? { modelId: target.modelId, alias: target.alias, endpointId: null } : { modelId: null, alias: null, endpointId: target.endpointId };
}

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a secrets manager. */
function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

/** The names a page shows for what a schedule runs and against what. */
async function scheduleLabels(db: PrismaClient, rows: Row[]) {
  const versionIds = [...new Set(rows.flatMap((r) => r.suiteVersionIds))];
  const [versions, models, endpoints] = await Promise.all([
    db.suiteVersion.findMany({ where: { id: { in: versionIds } }, select: { id: true, version: true, suiteId: true, suite: { select: { name: true } } } }),
    db.model.findMany({ where: { id: { in: rows.flatMap((r) => (r.modelId ? [r.modelId] : [])) } }, select: { id: true, name: true } }),
    db.endpoint.findMany({ where: { id: { in: rows.flatMap((r) => (r.endpointId ? [r.endpointId] : [])) } }, select: { id: true, name: true } }),
  ]);
  const version = new Map(versions.map((v) => [v.id, { id: v.id, version: v.version, suiteId: v.suiteId, suiteName: v.suite.name }]));
  const model = new Map(models.map((m) => [m.id, m.name]));
  const endpoint = new Map(endpoints.map((e) => [e.id, e.name]));
  return (r: Row) => ({
    suiteVersions: r.suiteVersionIds.map((id) => version.get(id) ?? { id, version: null, suiteId: null, suiteName: null }),
    modelName: r.modelId ? (model.get(r.modelId) ?? null) : null,
    endpointName: r.endpointId ? (endpoint.get(r.endpointId) ?? null) : null,
  });
}

export async function listSchedules(db: PrismaClient, projectId: string) {
  const rows = await db.evalSchedule.findMany({ where: { projectId }, select: columns, orderBy: { name: "asc" } });
  const labels = await scheduleLabels(db, rows);
  // Each schedule's latest firing by index (DISTINCT ON), not every firing of a year of hourly slots.
  const latestIds = rows.length
    ? await db.$queryRaw<{ id: string }[]>`
        SELECT DISTINCT ON ("scheduleId") id FROM "ScheduleFiring"
        WHERE "scheduleId" = ANY(${rows.map((r) => r.id)}::text[]) ORDER BY "scheduleId", "createdAt" DESC`
    : [];
  const latest = latestIds.length
    ? await db.scheduleFiring.findMany({
        where: { id: { in: latestIds.map((r) => r.id) } },
        select: { scheduleId: true, id: true, slot: true, error: true, createdAt: true, runs: { select: { runId: true, suiteVersionId: true, score: true, previousScore: true, alerted: true, regressions: true, run: { select: { status: true } } } } },
      })
    : [];
  const byId = new Map(latest.map((f) => [f.scheduleId, f]));
  return rows.map((r) => ({ ...toPublic(r), ...labels(r), lastFiring: byId.get(r.id) ?? null }));
}

/** A schedule with its latest firings (each with its runs, scores and alerts) and its webhook deliveries. */
export async function getSchedule(db: PrismaClient, scheduleId: string) {
  const row = await db.evalSchedule.findUniqueOrThrow({ where: { id: scheduleId }, select: columns });
  const [firings, deliveries] = await Promise.all([
    db.scheduleFiring.findMany({
      where: { scheduleId },
      orderBy: { createdAt: "desc" },
      take: 30,
      select: {
        id: true,
        slot: true,
        manual: true,
        modelVersionId: true,
        error: true,
        createdAt: true,
        runs: {
          orderBy: { suiteVersionId: "asc" },
          select: { runId: true, suiteVersionId: true, score: true, previousRunId: true, previousScore: true, regressions: true, alerted: true, evaluatedAt: true, run: { select: { status: true, target: true, error: true } } },
        },
      },
    }),
    db.webhookDelivery.findMany({
      where: { scheduleId },
      orderBy: { createdAt: "desc" },
      take: 20,
      select: { id: true, status: true, attempts: true, maxAttempts: true, nextAttemptAt: true, lastStatus: true, lastError: true, deliveredAt: true, createdAt: true },
    }),
  ]);
  return { ...toPublic(row), ...(await scheduleLabels(db, [row]))(row), firings, deliveries };
}

export async function createSchedule(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  projectId: string,
  input: ScheduleFields & { webhookSecret?: string },
  options: { now?: Date; guard?: GuardOptions } = {},
): Promise<{ schedule: PublicSchedule; webhookSecret: string | null }> {
  checkOffset(input.interval, input.offsetMinutes);
  const suiteVersionIds = await checkReferences(db, projectId, input);
  const webhookUrl = input.webhookUrl ? await checkWebhookUrl(input.webhookUrl, options.guard) : null;
  const taken = await db.evalSchedule.findUnique({ where: { projectId_name: { projectId, name: input.name } }, select: { id: true } });
  if (taken) throw new DomainError("CONFLICT", `name: a schedule named "${input.name}" already exists in this project.`);
  const secret = webhookUrl ? (input.webhookSecret ?? newWebhookSecret()) : null;
  const now = options.now ?? new Date();
  return db.$transaction(async (tx) => {
    const created = await tx.evalSchedule.create({
      data: {
        projectId,
        name: input.name,
        suiteVersionIds,
        ...targetColumns(input.target),
        interval: input.interval,
        offsetMinutes: input.offsetMinutes,
        marginPoints: input.marginPoints,
        webhookUrl,
        nextRunAt: nextSlot(input.interval, input.offsetMinutes, now),
        createdById: actorId(actor),
      },
      select: { id: true },
    });
    // The id is part of the ciphertext's associated data, so the secret is encrypted once the row exists.
    const row = await tx.evalSchedule.update({
      where: { id: created.id },
      data: { webhookSecretCiphertext: secret ? encryptSecret(secret, webhookSecretContext(created.id)) : null },
      select: columns,
    });
    const schedule = toPublic(row);
    await recordAudit(tx, actor, { orgId, action: "schedule.create", resourceType: "EvalSchedule", resourceId: row.id, after: schedule });
    // Shown once, only when Hearth made it: a secret the person typed is theirs already.
    return { schedule, webhookSecret: secret && !input.webhookSecret ? secret : null };
  });
}

export async function updateSchedule(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  scheduleId: string,
  changes: Partial<ScheduleFields> & { enabled?: boolean; webhookSecret?: string; rotateWebhookSecret?: boolean },
  options: { now?: Date; guard?: GuardOptions } = {},
): Promise<{ schedule: PublicSchedule; webhookSecret: string | null }> {
  const before = await db.evalSchedule.findUniqueOrThrow({ where: { id: scheduleId }, select: columns });
  const target: ScheduleTarget = changes.target ?? (before.endpointId ? { kind: "endpoint", endpointId: before.endpointId } : { kind: "alias", modelId: before.modelId!, alias: before.alias! });
  const suiteVersionIds = await checkReferences(db, before.projectId, { suiteVersionIds: changes.suiteVersionIds ?? before.suiteVersionIds, target });
  if (changes.name !== undefined && changes.name !== before.name) {
    const taken = await db.evalSchedule.findUnique({ where: { projectId_name: { projectId: before.projectId, name: changes.name } }, select: { id: true } });
    if (taken) throw new DomainError("CONFLICT", `name: a schedule named "${changes.name}" already exists in this project.`);
  }
  const webhookUrl = changes.webhookUrl === undefined ? before.webhookUrl : changes.webhookUrl ? await checkWebhookUrl(changes.webhookUrl, options.guard) : null;
  // A webhook that is new, or whose secret is rotated or given, gets a new secret; removing the webhook removes it.
  let secret: string | null = null;
  let ciphertext: string | null | undefined;
  if (!webhookUrl) ciphertext = null;
  else if (changes.webhookSecret || changes.rotateWebhookSecret || !before.webhookSecretCiphertext) {
    secret = changes.webhookSecret ?? newWebhookSecret();
    ciphertext = encryptSecret(secret, webhookSecretContext(scheduleId));
  }
  const interval = changes.interval ?? before.interval;
  const offsetMinutes = changes.offsetMinutes ?? before.offsetMinutes;
  const enabled = changes.enabled ?? before.enabled;
  // A new timetable, or a schedule resumed after a pause, starts at its next slot rather than catching up.
  const retimed = interval !== before.interval || offsetMinutes !== before.offsetMinutes || (enabled && !before.enabled);
  checkOffset(interval, offsetMinutes);
  return db.$transaction(async (tx) => {
    const row = await tx.evalSchedule.update({
      where: { id: scheduleId },
      data: {
        name: changes.name,
        suiteVersionIds,
        ...targetColumns(target),
        interval,
        offsetMinutes,
        marginPoints: changes.marginPoints,
        enabled,
        webhookUrl,
        webhookSecretCiphertext: ciphertext,
        ...(retimed ? { nextRunAt: nextSlot(interval, offsetMinutes, options.now ?? new Date()) } : {}),
      },
      select: columns,
    });
    const schedule = toPublic(row);
    const action = changes.enabled !== undefined && Object.keys(changes).length === 1 ? (enabled ? "schedule.resume" : "schedule.pause") : "schedule.update";
    await recordAudit(tx, actor, { orgId, action, resourceType: "EvalSchedule", resourceId: scheduleId, before: toPublic(before), after: { ...schedule, webhookSecretChanged: secret !== null } });
    return { schedule, webhookSecret: secret && !changes.webhookSecret ? secret : null };
  });
}

export async function deleteSchedule(db: PrismaClient, actor: Actor, orgId: string, scheduleId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.evalSchedule.delete({ where: { id: scheduleId }, select: columns });
    await recordAudit(tx, actor, { orgId, action: "schedule.delete", resourceType: "EvalSchedule", resourceId: scheduleId, before: toPublic(before) });
    return { id: scheduleId };
  });
}
