// Review queues: people label outputs (eval results, served requests, items added by hand) by a
// queue's score schema. An item is locked to one reviewer while they label it; the lock expires by
// the database's clock, so a reviewer who walks away frees the item for the next. Every label records
// who, when, the model version and the case, and is audited.
import type { Prisma, PrismaClient, ReviewAssignment, ReviewItemSource } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { actorId } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { jsonValue } from "@/server/db/json";
import { parseStoredCases } from "@/contracts/eval-case";
import { AGREEMENT_DIMENSIONS, labelProblems, ScoreSchema, type AgreementDimension, type LabelInput } from "@/contracts/review";
import { agreementOf, type Agreement } from "./agreement";
import { clauseTexts, type ClauseText } from "./clauses";

type Tx = Prisma.TransactionClient;

export const MAX_ITEMS_PER_ADD = 5_000;
export const MAX_ITEM_TEXT = 200_000;

export const queueSelect = {
  id: true,
  projectId: true,
  name: true,
  description: true,
  scoreSchema: true,
  source: true,
  servedSampleRate: true,
  assignment: true,
  assigneeIds: true,
  reviewersPerItem: true,
  lockSeconds: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
} as const;

export interface QueueSettings {
  name: string;
  description: string;
  scoreSchema: ScoreSchema;
  assignment: ReviewAssignment;
  assigneeIds: string[];
  reviewersPerItem: number;
  lockSeconds: number;
  servedSampleRate: number;
}

function parseSchema(value: unknown): ScoreSchema {
  return ScoreSchema.parse(value);
}

/** Named and round-robin reviewers must be EDITORs or above of the project's organization. */
async function checkAssignees(db: Tx | PrismaClient, orgId: string, settings: Pick<QueueSettings, "assignment" | "assigneeIds" | "reviewersPerItem">) {
  const ids = [...new Set(settings.assigneeIds)];
  if (settings.assignment === "ANYONE" && ids.length) throw new DomainError("BAD_REQUEST", "A queue open to anyone names no reviewers; choose named or round-robin assignment.");
  if (settings.assignment !== "ANYONE") {
    if (ids.length === 0) throw new DomainError("BAD_REQUEST", "Name at least one reviewer.");
    if (ids.length < settings.reviewersPerItem) throw new DomainError("BAD_REQUEST", `Each item needs ${settings.reviewersPerItem} reviewers, but only ${ids.length} are named.`);
    const members = await db.membership.findMany({ where: { orgId, userId: { in: ids }, role: { in: ["OWNER", "ADMIN", "EDITOR"] } }, select: { userId: true } });
    const found = new Set(members.map((m) => m.userId));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw new DomainError("BAD_REQUEST", `Reviewers must be editors (or above) of this organization: ${missing.length} named reviewer${missing.length === 1 ? " is" : "s are"} not.`);
  }
  return ids;
}

export async function createQueue(db: PrismaClient, actor: Actor, orgId: string, projectId: string, settings: QueueSettings) {
  return db.$transaction(async (tx) => {
    if (await tx.reviewQueue.findUnique({ where: { projectId_name: { projectId, name: settings.name } }, select: { id: true } })) {
      throw new DomainError("CONFLICT", `A review queue named "${settings.name}" already exists in this project.`);
    }
    const assigneeIds = await checkAssignees(tx, orgId, settings);
    const queue = await tx.reviewQueue.create({
      data: { ...settings, assigneeIds, scoreSchema: jsonValue(settings.scoreSchema), projectId, createdById: actorId(actor) },
      select: queueSelect,
    });
    await recordAudit(tx, actor, { orgId, action: "review.queue.create", resourceType: "ReviewQueue", resourceId: queue.id, after: queue });
    return queue;
  });
}

export async function updateQueue(db: PrismaClient, actor: Actor, orgId: string, queueId: string, changes: Partial<QueueSettings>) {
  return db.$transaction(async (tx) => {
    const before = await tx.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: queueSelect });
    const merged = { assignment: changes.assignment ?? before.assignment, assigneeIds: changes.assigneeIds ?? before.assigneeIds, reviewersPerItem: changes.reviewersPerItem ?? before.reviewersPerItem };
    const assigneeIds = await checkAssignees(tx, orgId, merged);
    if (changes.name && changes.name !== before.name && (await tx.reviewQueue.findUnique({ where: { projectId_name: { projectId: before.projectId, name: changes.name } }, select: { id: true } }))) {
      throw new DomainError("CONFLICT", `A review queue named "${changes.name}" already exists in this project.`);
    }
    if (changes.scoreSchema && (await tx.reviewLabel.count({ where: { queueId } }))) {
      throw new DomainError("CONFLICT", "This queue already has labels: its score schema cannot change. Make a new queue.");
    }
    const after = await tx.reviewQueue.update({
      where: { id: queueId },
      data: { ...changes, assigneeIds, scoreSchema: changes.scoreSchema ? jsonValue(changes.scoreSchema) : undefined },
      select: queueSelect,
    });
    await recordAudit(tx, actor, { orgId, action: "review.queue.update", resourceType: "ReviewQueue", resourceId: queueId, before, after });
    return after;
  });
}

export async function deleteQueue(db: PrismaClient, actor: Actor, orgId: string, queueId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: queueSelect });
    await tx.reviewQueue.delete({ where: { id: queueId } });
    await recordAudit(tx, actor, { orgId, action: "review.queue.delete", resourceType: "ReviewQueue", resourceId: queueId, before });
    return { id: queueId };
  });
}

export interface NewItem {
  source: ReviewItemSource;
  sourceId?: string | null;
  runId?: string | null;
  caseId?: string | null;
  modelVersionId?: string | null;
  input: string;
  output: string;
  expected?: string;
  clauses?: ClauseText[];
}

/** Appends items in order, giving each its reviewers (round robin: the next `reviewersPerItem` names in turn). */
export async function insertItems(tx: Tx, queueId: string, items: NewItem[]): Promise<number> {
  if (items.length === 0) return 0;
  // One writer appends at a time: positions and the round-robin pointer stay consistent.
  const [queue] = await tx.$queryRaw<{ assignment: ReviewAssignment; assigneeIds: string[]; nextAssignee: number; reviewersPerItem: number }[]>`
    SELECT "assignment", "assigneeIds", "nextAssignee", "reviewersPerItem" FROM "ReviewQueue" WHERE id = ${queueId} FOR UPDATE`;
  if (!queue) throw new DomainError("NOT_FOUND", "Review queue not found.");
  const last = await tx.reviewItem.findFirst({ where: { queueId }, orderBy: { position: "desc" }, select: { position: true } });
  let next = queue.nextAssignee;
  const rows = items.map((item, i) => {
    let assigneeIds: string[] = [];
    if (queue.assignment === "NAMED") assigneeIds = queue.assigneeIds;
    if (queue.assignment === "ROUND_ROBIN") {
      const n = queue.assigneeIds.length;
      assigneeIds = Array.from({ length: Math.min(queue.reviewersPerItem, n) }, (_, k) => queue.assigneeIds[(next + k) % n]);
      next = (next + queue.reviewersPerItem) % n;
    }
    return {
      queueId,
      position: (last?.position ?? 0) + i + 1,
      source: item.source,
      sourceId: item.sourceId ?? null,
      runId: item.runId ?? null,
      caseId: item.caseId ?? null,
      modelVersionId: item.modelVersionId ?? null,
      input: item.input.slice(0, MAX_ITEM_TEXT),
      output: item.output.slice(0, MAX_ITEM_TEXT),
      expected: (item.expected ?? "").slice(0, MAX_ITEM_TEXT),
      clauses: jsonValue(item.clauses ?? []),
      assigneeIds,
    };
  });
  await tx.reviewItem.createMany({ data: rows });
  if (queue.assignment === "ROUND_ROBIN") await tx.reviewQueue.update({ where: { id: queueId }, data: { nextAssignee: next } });
  return rows.length;
}

export async function addManualItems(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  queueId: string,
  items: { input: string; output: string; expected?: string; clauseIds?: string[] }[],
) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { projectId: true } });
  const texts = await clauseTexts(db, queue.projectId, items.flatMap((i) => i.clauseIds ?? []));
  return db.$transaction(async (tx) => {
    const added = await insertItems(
      tx,
      queueId,
      items.map((i) => ({ source: "MANUAL" as const, input: i.input, output: i.output, expected: i.expected, clauses: (i.clauseIds ?? []).map((id) => texts.get(id) ?? { id, text: "" }) })),
    );
    await recordAudit(tx, actor, { orgId, action: "review.items.add", resourceType: "ReviewQueue", resourceId: queueId, after: { source: "MANUAL", added } });
    return { added };
  });
}

export interface ResultFilter {
  runId: string;
  pass?: boolean;
  grader?: string;
  tag?: string;
  clause?: string;
  minScore?: number;
  maxScore?: number;
}

function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return JSON.stringify(value, null, 2);
}

/** Adds an eval run's results matching the filter (each result at most once per queue). */
export async function addEvalResults(db: PrismaClient, actor: Actor, orgId: string, queueId: string, filter: ResultFilter) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { projectId: true } });
  const run = await db.run.findUnique({ where: { id: filter.runId }, select: { projectId: true, kind: true, modelVersionId: true, suiteVersion: { select: { cases: true } } } });
  if (!run || run.projectId !== queue.projectId) throw new DomainError("NOT_FOUND", "Run not found in this project.");
  if (run.kind !== "EVAL" || !run.suiteVersion) throw new DomainError("BAD_REQUEST", "Only an eval run's results can be reviewed.");
  const cases = new Map(parseStoredCases(run.suiteVersion.cases).map((c) => [c.id, c]));
  const results = await db.evalResult.findMany({
    where: {
      runId: filter.runId,
      pass: filter.pass,
      score: { gte: filter.minScore, lte: filter.maxScore },
    },
    select: { id: true, caseId: true, output: true, grades: true },
    orderBy: { caseId: "asc" },
    take: MAX_ITEMS_PER_ADD + 1,
  });
  const already = new Set(
    (await db.reviewItem.findMany({ where: { queueId, source: "EVAL_RESULT", sourceId: { in: results.map((r) => r.id) } }, select: { sourceId: true } })).map((i) => i.sourceId),
  );
  const chosen = results.filter((r) => {
    if (already.has(r.id)) return false;
    const c = cases.get(r.caseId);
    if (filter.tag && !c?.tags?.includes(filter.tag)) return false;
    if (filter.clause && !c?.clauses?.includes(filter.clause)) return false;
    if (filter.grader && !(Array.isArray(r.grades) && (r.grades as { grader?: unknown }[]).some((g) => g.grader === filter.grader))) return false;
    return true;
  });
  if (chosen.length > MAX_ITEMS_PER_ADD) throw new DomainError("BAD_REQUEST", `More than ${MAX_ITEMS_PER_ADD} results match; narrow the filter.`);
  const texts = await clauseTexts(db, queue.projectId, chosen.flatMap((r) => cases.get(r.caseId)?.clauses ?? []));
  return db.$transaction(async (tx) => {
    const added = await insertItems(
      tx,
      queueId,
      chosen.map((r) => {
        const c = cases.get(r.caseId);
        const expected = c ? (c.expected ?? (c.choices && c.answerIndex !== undefined ? c.choices[c.answerIndex] : undefined)) : undefined;
        return {
          source: "EVAL_RESULT" as const,
          sourceId: r.id,
          runId: filter.runId,
          caseId: r.caseId,
          modelVersionId: run.modelVersionId,
          input: textOf(c?.input),
          output: r.output,
          expected: textOf(expected),
          clauses: (c?.clauses ?? []).map((id) => texts.get(id) ?? { id, text: "" }),
        };
      }),
    );
    await tx.reviewQueue.update({ where: { id: queueId }, data: { source: jsonValue({ ...filter, kind: "eval-results" }) } });
    await recordAudit(tx, actor, { orgId, action: "review.items.add", resourceType: "ReviewQueue", resourceId: queueId, after: { source: "EVAL_RESULT", filter, added } });
    return { added };
  });
}

const itemSelect = {
  id: true,
  queueId: true,
  position: true,
  source: true,
  sourceId: true,
  runId: true,
  caseId: true,
  modelVersionId: true,
  input: true,
  output: true,
  expected: true,
  clauses: true,
  lockedById: true,
  lockExpiresAt: true,
  labelCount: true,
} as const;

const labelSelect = { id: true, reviewerId: true, pass: true, score: true, category: true, correctedOutput: true, comment: true, modelVersionId: true, caseId: true, createdAt: true, updatedAt: true } as const;

/**
 * Locks the reviewer's next item and returns it: the one they already hold, else the first that still
 * needs reviewers, is open to them, they have not labelled, and nobody else holds (or whose lock has
 * expired, by the database's clock). Null when nothing is left for them.
 */
export async function claimNextItem(db: PrismaClient, reviewerId: string, queueId: string, options: { lockSeconds?: number; after?: number } = {}) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { reviewersPerItem: true, lockSeconds: true } });
  const seconds = options.lockSeconds ?? queue.lockSeconds;
  const after = options.after ?? 0;
  const rows = await db.$transaction(async (tx) => {
    const claimed = await tx.$queryRaw<{ id: string }[]>`
      UPDATE "ReviewItem" SET "lockedById" = ${reviewerId}, "lockExpiresAt" = now() + make_interval(secs => ${seconds}::double precision)
      WHERE id = (
        SELECT i.id FROM "ReviewItem" i
        WHERE i."queueId" = ${queueId} AND i."labelCount" < ${queue.reviewersPerItem}
          AND (coalesce(cardinality(i."assigneeIds"), 0) = 0 OR ${reviewerId} = ANY(i."assigneeIds"))
          AND NOT EXISTS (SELECT 1 FROM "ReviewLabel" l WHERE l."itemId" = i.id AND l."reviewerId" = ${reviewerId})
          AND (i."lockedById" IS NULL OR i."lockedById" = ${reviewerId} OR i."lockExpiresAt" <= now())
          AND (i."lockedById" = ${reviewerId} OR i.position > ${after})
        ORDER BY (i."lockedById" IS NOT DISTINCT FROM ${reviewerId}) DESC, i.position
        LIMIT 1
        FOR UPDATE SKIP LOCKED)
      RETURNING id`;
    // A reviewer holds one item at a time: taking the next lets go of any other.
    if (claimed[0]) {
      await tx.$executeRaw`UPDATE "ReviewItem" SET "lockedById" = NULL, "lockExpiresAt" = NULL WHERE "queueId" = ${queueId} AND "lockedById" = ${reviewerId} AND id <> ${claimed[0].id}`;
    }
    return claimed;
  });
  if (!rows[0]) return null;
  return db.reviewItem.findUniqueOrThrow({ where: { id: rows[0].id }, select: itemSelect });
}

/** An item with the reviewer's own label (to look back at, or change, one they labelled). */
export async function getItemForReviewer(db: PrismaClient, reviewerId: string, itemId: string) {
  const item = await db.reviewItem.findUniqueOrThrow({ where: { id: itemId }, select: { ...itemSelect, labels: { where: { reviewerId }, select: labelSelect } } });
  const { labels, ...rest } = item;
  return { ...rest, myLabel: labels[0] ?? null };
}

/** Lets go of the reviewer's lock on an item (skipping it). */
export async function releaseItem(db: PrismaClient, reviewerId: string, itemId: string) {
  const released = await db.reviewItem.updateMany({ where: { id: itemId, lockedById: reviewerId }, data: { lockedById: null, lockExpiresAt: null } });
  return { released: released.count > 0 };
}

/**
 * Stores the reviewer's label of an item: a first label needs the reviewer's lock (held, or expired
 * but taken by nobody since); changing one's own label needs none. The lock is released.
 */
export async function submitLabel(db: PrismaClient, actor: Actor & { type: "user" }, orgId: string, itemId: string, label: LabelInput) {
  const reviewerId = actor.userId;
  return db.$transaction(async (tx) => {
    const item = await tx.reviewItem.findUniqueOrThrow({
      where: { id: itemId },
      select: { queueId: true, caseId: true, modelVersionId: true, assigneeIds: true, source: true, sourceId: true, queue: { select: { scoreSchema: true, reviewersPerItem: true } } },
    });
    // A policy-change item passed: the case still holds under the new clause, so its flag is cleared.
    const clearFlag = async () => {
      if (item.source !== "POLICY_CHANGE" || !item.sourceId || label.pass !== true) return;
      await tx.caseReviewFlag.updateMany({ where: { id: item.sourceId, resolvedAt: null }, data: { resolvedAt: new Date(), resolvedById: reviewerId } });
    };
    const problems = labelProblems(parseSchema(item.queue.scoreSchema), label);
    if (problems.length) throw new DomainError("BAD_REQUEST", `The label was not saved: ${problems.join("; ")}.`);
    const existing = await tx.reviewLabel.findUnique({ where: { itemId_reviewerId: { itemId, reviewerId } }, select: labelSelect });
    const values = { pass: label.pass, score: label.score, category: label.category, correctedOutput: label.correctedOutput || null, comment: label.comment || null };
    if (existing) {
      const updated = await tx.reviewLabel.update({ where: { id: existing.id }, data: values, select: labelSelect });
      await tx.reviewItem.updateMany({ where: { id: itemId, lockedById: reviewerId }, data: { lockedById: null, lockExpiresAt: null } });
      await clearFlag();
      await recordAudit(tx, actor, { orgId, action: "review.label.update", resourceType: "ReviewLabel", resourceId: existing.id, before: existing, after: { itemId, ...updated } });
      return updated;
    }
    if (item.assigneeIds.length && !item.assigneeIds.includes(reviewerId)) throw new DomainError("FORBIDDEN", "This item is assigned to other reviewers.");
    const taken = await tx.$queryRaw<{ id: string }[]>`
      UPDATE "ReviewItem" SET "labelCount" = "labelCount" + 1, "lockedById" = NULL, "lockExpiresAt" = NULL
      WHERE id = ${itemId} AND "lockedById" = ${reviewerId} AND "labelCount" < ${item.queue.reviewersPerItem}
      RETURNING id`;
    if (!taken[0]) throw new DomainError("CONFLICT", "This item is not locked to you (the lock expired and someone else took it, or it has all its labels). Take the next item.");
    const created = await tx.reviewLabel.create({
      data: { itemId, queueId: item.queueId, reviewerId, ...values, modelVersionId: item.modelVersionId, caseId: item.caseId },
      select: labelSelect,
    });
    await clearFlag();
    await recordAudit(tx, actor, { orgId, action: "review.label", resourceType: "ReviewLabel", resourceId: created.id, after: { itemId, queueId: item.queueId, ...created } });
    return created;
  });
}

export async function listQueues(db: PrismaClient, projectId: string) {
  const queues = await db.reviewQueue.findMany({ where: { projectId }, select: { id: true, name: true, description: true, reviewersPerItem: true, assignment: true, createdAt: true }, orderBy: { name: "asc" } });
  const counts = await db.$queryRaw<{ queueId: string; items: bigint; done: bigint; labels: bigint }[]>`
    SELECT q.id AS "queueId", count(i.id) AS items, count(i.id) FILTER (WHERE i."labelCount" >= q."reviewersPerItem") AS done, coalesce(sum(i."labelCount"), 0)::bigint AS labels
    FROM "ReviewQueue" q LEFT JOIN "ReviewItem" i ON i."queueId" = q.id
    WHERE q."projectId" = ${projectId} GROUP BY q.id`;
  const byQueue = new Map(counts.map((c) => [c.queueId, { items: Number(c.items), done: Number(c.done), labels: Number(c.labels) }]));
  return queues.map((q) => ({ ...q, progress: byQueue.get(q.id) ?? { items: 0, done: 0, labels: 0 } }));
}

/** A queue with its progress: items done, and per reviewer the labels given and the items still open to them. */
export async function getQueue(db: PrismaClient, queueId: string) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: queueSelect });
  const [totals] = await db.$queryRaw<{ items: bigint; done: bigint }[]>`
    SELECT count(*) AS items, count(*) FILTER (WHERE "labelCount" >= ${queue.reviewersPerItem}) AS done FROM "ReviewItem" WHERE "queueId" = ${queueId}`;
  const perReviewer = await db.reviewLabel.groupBy({ by: ["reviewerId"], where: { queueId }, _count: { _all: true } });
  const reviewerIds = [...new Set([...queue.assigneeIds, ...perReviewer.map((r) => r.reviewerId)])];
  const users = await db.user.findMany({ where: { id: { in: reviewerIds } }, select: { id: true, name: true, email: true } });
  const reviewers = await Promise.all(
    reviewerIds.map(async (id) => ({
      userId: id,
      name: users.find((u) => u.id === id)?.name ?? "(removed)",
      email: users.find((u) => u.id === id)?.email ?? "",
      labelled: perReviewer.find((r) => r.reviewerId === id)?._count._all ?? 0,
      remaining: await remainingFor(db, queueId, id, queue.reviewersPerItem),
    })),
  );
  return { ...queue, scoreSchema: parseSchema(queue.scoreSchema), progress: { items: Number(totals.items), done: Number(totals.done) }, reviewers };
}

/** Items still open to a reviewer: needing labels, open to them, not labelled by them. */
export async function remainingFor(db: PrismaClient | Tx, queueId: string, reviewerId: string, reviewersPerItem: number): Promise<number> {
  const [row] = await db.$queryRaw<{ n: bigint }[]>`
    SELECT count(*) AS n FROM "ReviewItem" i
    WHERE i."queueId" = ${queueId} AND i."labelCount" < ${reviewersPerItem}
      AND (coalesce(cardinality(i."assigneeIds"), 0) = 0 OR ${reviewerId} = ANY(i."assigneeIds"))
      AND NOT EXISTS (SELECT 1 FROM "ReviewLabel" l WHERE l."itemId" = i.id AND l."reviewerId" = ${reviewerId})`;
  return Number(row.n);
}

/** The reviewer's own progress in a queue: labelled, and still open to them. */
export async function reviewerProgress(db: PrismaClient, queueId: string, reviewerId: string) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { reviewersPerItem: true } });
  const labelled = await db.reviewLabel.count({ where: { queueId, reviewerId } });
  return { labelled, remaining: await remainingFor(db, queueId, reviewerId, queue.reviewersPerItem) };
}

/** The ids of the items the reviewer labelled, in the order they labelled them (for "previous"). */
export async function labelledItemIds(db: PrismaClient, queueId: string, reviewerId: string): Promise<string[]> {
  const labels = await db.reviewLabel.findMany({ where: { queueId, reviewerId }, select: { itemId: true }, orderBy: { createdAt: "asc" } });
  return labels.map((l) => l.itemId);
}

function valueOf(dimension: AgreementDimension, label: { pass: boolean | null; score: number | null; category: string | null }): string | null {
  if (dimension === "pass") return label.pass === null ? null : label.pass ? "pass" : "fail";
  if (dimension === "category") return label.category;
  return label.score === null ? null : String(label.score);
}

/** Agreement per scored dimension, and the items reviewers disagree on with everyone's labels. */
export async function queueAgreement(db: PrismaClient, queueId: string) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { scoreSchema: true, reviewersPerItem: true } });
  const schema = parseSchema(queue.scoreSchema);
  const labels = await db.reviewLabel.findMany({ where: { queueId }, select: { itemId: true, reviewerId: true, pass: true, score: true, category: true, createdAt: true }, orderBy: { createdAt: "asc" } });
  const scored: Record<AgreementDimension, boolean> = { pass: schema.pass, category: schema.categories.length > 0, score: !!schema.numeric };
  const dimensions: (Agreement & { dimension: AgreementDimension })[] = [];
  for (const dimension of AGREEMENT_DIMENSIONS) {
    if (!scored[dimension]) continue;
    const values = labels.flatMap((l) => {
      const value = valueOf(dimension, l);
      return value === null ? [] : [{ itemId: l.itemId, reviewerId: l.reviewerId, value }];
    });
    dimensions.push({ dimension, ...agreementOf(values, queue.reviewersPerItem) });
  }
  const disagreeing = [...new Set(dimensions.flatMap((d) => d.disagreements))].slice(0, 500);
  const items = await db.reviewItem.findMany({
    where: { id: { in: disagreeing } },
    select: { id: true, position: true, input: true, output: true, expected: true, labels: { select: { reviewerId: true, pass: true, score: true, category: true, comment: true } } },
    orderBy: { position: "asc" },
  });
  const users = await db.user.findMany({ where: { id: { in: [...new Set(labels.map((l) => l.reviewerId))] } }, select: { id: true, name: true } });
  const names = Object.fromEntries(users.map((u) => [u.id, u.name]));
  return { dimensions, disagreements: items.map((i) => ({ ...i, labels: i.labels.map((l) => ({ ...l, reviewer: names[l.reviewerId] ?? "(removed)" })) })) };
}

