// Cases to look at again after a policy changes (DESIGN, flow 8): when a new policy version changes a
// clause's words or removes the clause, every case of the project's suites that cites it (in the working
// copy people edit) is flagged "needs review", and put in the project's "Policy changes" review queue.
// A flag is cleared by marking the case reviewed in the suite editor, or by a reviewer passing its queue
// item (the case still holds); failing the item leaves the flag for whoever edits the case.
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { actorId } from "@/contracts/actor";
import { changedClauses, type ClauseChange } from "@/contracts/policy-clauses";
import type { ScoreSchema } from "@/contracts/review";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { jsonValue } from "@/server/db/json";
import { versionClauses } from "@/server/review/clauses";
import { insertItems, MAX_ITEM_TEXT, type NewItem } from "@/server/review/service";
import { currentSuiteCases } from "@/server/suites/service";

type Tx = Prisma.TransactionClient;

export const POLICY_CHANGES_QUEUE = "Policy changes";
const POLICY_CHANGES_SCHEMA: ScoreSchema = { pass: true, numeric: null, categories: [], correction: false, comment: true };
const MAX_CLAUSE_TEXT = 20_000;

export const flagSelect = {
  id: true,
  suiteId: true,
  caseId: true,
  policyId: true,
  policyVersion: true,
  clauseId: true,
  clauseNumber: true,
  clauseTitle: true,
  change: true,
  beforeText: true,
  afterText: true,
  reviewItemId: true,
  createdAt: true,
  updatedAt: true,
} as const;

/** The references a case may cite a clause by: its id, or its id qualified with the policy's key ("refunds#c-1a2b3c4d"). */
function referencesOf(policyKey: string, clauseId: string): string[] {
  return [clauseId, `${policyKey}#${clauseId}`];
}

function textOf(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "";
  return JSON.stringify(value, null, 2);
}

interface Hit {
  suite: { id: string; name: string };
  draft: Record<string, unknown>;
  caseId: string;
  change: ClauseChange;
}

/** The cases of the project's suites (working copies) citing a changed clause: one hit per case and clause. */
async function casesCiting(db: PrismaClient, projectId: string, policyKey: string, changes: ClauseChange[]): Promise<Hit[]> {
  const byReference = new Map<string, ClauseChange>();
  for (const change of changes) for (const ref of referencesOf(policyKey, change.id)) byReference.set(ref, change);
  const suites = await db.evalSuite.findMany({ where: { projectId }, select: { id: true, name: true }, orderBy: { name: "asc" } });
  const hits: Hit[] = [];
  for (const suite of suites) {
    for (const draft of await currentSuiteCases(db, suite.id)) {
      if (typeof draft.id !== "string" || !draft.id || !Array.isArray(draft.clauses)) continue;
      const seen = new Set<string>();
      for (const ref of draft.clauses) {
        const change = typeof ref === "string" ? byReference.get(ref) : undefined;
        if (!change || seen.has(change.id)) continue;
        seen.add(change.id);
        hits.push({ suite, draft, caseId: draft.id, change });
      }
    }
  }
  return hits;
}

/**
 * The project's "Policy changes" queue, made on first need in a transaction of its own: two policies
 * published at once may both find it missing, and the one whose insert loses takes the winner's queue.
 */
async function policyChangesQueue(db: PrismaClient, actor: Actor, orgId: string, projectId: string): Promise<string> {
  const find = () => db.reviewQueue.findUnique({ where: { projectId_name: { projectId, name: POLICY_CHANGES_QUEUE } }, select: { id: true } });
  const found = await find();
  if (found) return found.id;
  try {
    return await db.$transaction(async (tx) => {
      const queue = await tx.reviewQueue.create({
        data: {
          projectId,
          name: POLICY_CHANGES_QUEUE,
          description: "Cases citing a policy clause that a new policy version changed or removed. Pass: the case still holds under the new text (its flag is cleared). Fail: the case needs an edit in its suite.",
          scoreSchema: jsonValue(POLICY_CHANGES_SCHEMA),
          source: jsonValue({ kind: "policy-changes" }),
          createdById: actorId(actor),
        },
        select: { id: true, name: true, projectId: true },
      });
      await recordAudit(tx, actor, { orgId, action: "review.queue.create", resourceType: "ReviewQueue", resourceId: queue.id, after: queue });
      return queue.id;
    });
  } catch (error) {
    const winner = await find();
    if (winner) return winner.id;
    throw error;
  }
}

function queueItem(hit: Hit, flagId: string, policy: { title: string }, version: number): NewItem {
  const { change, draft } = hit;
  const clause = `${change.number ? `${change.number} ` : ""}${change.title}`;
  const expected = draft.expected ?? (Array.isArray(draft.choices) && typeof draft.answerIndex === "number" ? draft.choices[draft.answerIndex] : undefined);
  return {
    source: "POLICY_CHANGE",
    sourceId: flagId,
    caseId: hit.caseId,
    input: textOf(draft.input),
    output: `Suite "${hit.suite.name}", case ${hit.caseId}: version ${version} of the policy "${policy.title}" ${change.kind === "REMOVED" ? "removed" : "changed"} clause ${clause}, which this case tests. Does the case still hold?`,
    expected: textOf(expected),
    clauses: [
      { id: `${change.id}@before`, text: `Before:\n${change.before}` },
      { id: change.id, text: change.after === null ? `Removed in version ${version}.` : `Version ${version}:\n${change.after}` },
    ],
  };
}

export interface FlagOutcome {
  /** Clauses the version changed or removed. */
  clauses: number;
  /** Cases flagged (newly, or an open flag brought up to this version). */
  cases: number;
  queueId: string | null;
}

/**
 * Flags the cases citing the clauses that `policyVersionId` changed or removed since the version before
 * it. Idempotent: running it again for the same version flags nothing twice. Nothing for a first version.
 */
export async function flagCasesForPolicyVersion(db: PrismaClient, actor: Actor, orgId: string, policyVersionId: string): Promise<FlagOutcome> {
  const version = await db.policyVersion.findUniqueOrThrow({
    where: { id: policyVersionId },
    select: { id: true, policyId: true, version: true, content: true, clauses: true, policy: { select: { projectId: true, key: true, title: true } } },
  });
  const previous = await db.policyVersion.findFirst({
    where: { policyId: version.policyId, version: { lt: version.version } },
    orderBy: { version: "desc" },
    select: { content: true, clauses: true },
  });
  const none: FlagOutcome = { clauses: 0, cases: 0, queueId: null };
  if (!previous) return none;
  const changes = changedClauses(
    { content: previous.content, clauses: versionClauses(previous.content, previous.clauses) },
    { content: version.content, clauses: versionClauses(version.content, version.clauses) },
  ).map((c) => ({ ...c, before: c.before.slice(0, MAX_CLAUSE_TEXT), after: c.after?.slice(0, MAX_CLAUSE_TEXT) ?? null }));
  if (!changes.length) return none;
  const { projectId, key, title } = version.policy;
  const hits = await casesCiting(db, projectId, key, changes);
  if (!hits.length) return { ...none, clauses: changes.length };
  const queueId = await policyChangesQueue(db, actor, orgId, projectId);
  return db.$transaction(async (tx) => {
    let flagged = 0;
    for (const hit of hits) {
      const where = { suiteId: hit.suite.id, caseId: hit.caseId, clauseId: hit.change.id };
      // this version already flagged it (a second run), open or since resolved
      if (await tx.caseReviewFlag.findFirst({ where: { ...where, policyVersionId: version.id }, select: { id: true } })) continue;
      const open = await tx.caseReviewFlag.findFirst({ where: { ...where, resolvedAt: null }, select: { id: true, beforeText: true, reviewItemId: true } });
      const fields = { policyVersionId: version.id, policyVersion: version.version, change: hit.change.kind, afterText: hit.change.after };
      const flag = open
        ? await tx.caseReviewFlag.update({ where: { id: open.id }, data: fields, select: { id: true, reviewItemId: true } })
        : await tx.caseReviewFlag.create({
            data: { ...where, ...fields, projectId, policyId: version.policyId, clauseNumber: hit.change.number, clauseTitle: hit.change.title, beforeText: hit.change.before },
            select: { id: true, reviewItemId: true },
          });
      flagged++;
      // an open flag keeps the text the case was last looked at with
      const item = queueItem(open ? { ...hit, change: { ...hit.change, before: open.beforeText } } : hit, flag.id, { title }, version.version);
      const unlabelled = flag.reviewItemId ? await tx.reviewItem.findFirst({ where: { id: flag.reviewItemId, labelCount: 0 }, select: { id: true } }) : null;
      if (unlabelled) {
        await tx.reviewItem.update({ where: { id: unlabelled.id }, data: { input: item.input.slice(0, MAX_ITEM_TEXT), output: item.output, expected: (item.expected ?? "").slice(0, MAX_ITEM_TEXT), clauses: jsonValue(item.clauses ?? []) } });
      } else {
        await insertItems(tx, queueId, [item]);
        const added = await tx.reviewItem.findFirstOrThrow({ where: { queueId, source: "POLICY_CHANGE", sourceId: flag.id }, orderBy: { position: "desc" }, select: { id: true } });
        await tx.caseReviewFlag.update({ where: { id: flag.id }, data: { reviewItemId: added.id } });
      }
    }
    await recordAudit(tx, actor, {
      orgId,
      action: "policy.flagCases",
      resourceType: "PolicyVersion",
      resourceId: version.id,
      after: { policyId: version.policyId, version: version.version, clauses: changes.map((c) => ({ id: c.id, change: c.kind })), cases: flagged, queueId },
    });
    return { clauses: changes.length, cases: flagged, queueId };
  });
}

/** A suite's open flags, by case. */
export async function listSuiteFlags(db: PrismaClient, suiteId: string) {
  return db.caseReviewFlag.findMany({ where: { suiteId, resolvedAt: null }, select: flagSelect, orderBy: [{ caseId: "asc" }, { createdAt: "asc" }], take: 2_000 });
}

/** The project's open flags, newest first, with their suite's name. */
export async function listProjectFlags(db: PrismaClient, projectId: string, limit: number) {
  const flags = await db.caseReviewFlag.findMany({
    where: { projectId, resolvedAt: null },
    select: { ...flagSelect, suite: { select: { name: true } } },
    orderBy: [{ updatedAt: "desc" }, { id: "asc" }],
    take: limit,
  });
  const total = await db.caseReviewFlag.count({ where: { projectId, resolvedAt: null } });
  return { flags: flags.map(({ suite, ...f }) => ({ ...f, suiteName: suite.name })), total };
}

/**
 * Marks a flagged case reviewed: the flag is cleared and its queue item, if nobody has labelled it yet,
 * leaves the queue (there is nothing left to ask).
 */
export async function resolveFlag(db: PrismaClient, actor: Actor & { type: "user" }, orgId: string, flagId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.caseReviewFlag.findUniqueOrThrow({ where: { id: flagId }, select: { ...flagSelect, resolvedAt: true } });
    if (before.resolvedAt) throw new DomainError("CONFLICT", "This case was already marked reviewed.");
    const after = await tx.caseReviewFlag.update({ where: { id: flagId }, data: { resolvedAt: new Date(), resolvedById: actor.userId }, select: { ...flagSelect, resolvedAt: true, resolvedById: true } });
    if (before.reviewItemId) await tx.reviewItem.deleteMany({ where: { id: before.reviewItemId, labelCount: 0 } });
    const summary = (f: typeof before) => ({ flagId, caseId: f.caseId, clauseId: f.clauseId, policyVersion: f.policyVersion, change: f.change, resolvedAt: f.resolvedAt });
    await recordAudit(tx, actor, { orgId, action: "suite.caseReview.resolve", resourceType: "EvalSuite", resourceId: before.suiteId, before: summary(before), after: { ...summary(after), resolvedById: after.resolvedById } });
    return after;
  });
}
