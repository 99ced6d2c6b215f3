import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { canonicalJson, sha256Hex } from "@/gpu/eval/hash";
import { EvalCaseSchema, type EvalCase } from "@/gpu/eval/case";
import { validateSuiteCases } from "@/gpu/eval/validate";
import { appendCases, editLiveDocument, readLiveDocument, replaceCases, suiteDocName } from "@/server/collab";
import { jsonValue } from "@/server/db/json";
import { parseStoredCases } from "@/contracts/eval-case";
import { NEEDS_REVIEW_TAG } from "@/gpu/eval/formats/report";

/** The suite's current cases: the live co-edited document (seeded from the draft on first use). */
export async function currentSuiteCases(db: PrismaClient, suiteId: string): Promise<Record<string, unknown>[]> {
  const live = await readLiveDocument(suiteDocName(suiteId), db);
  if (!live?.cases) throw new DomainError("NOT_FOUND", "Eval suite not found.");
  return live.cases;
}

export const suiteSelect = { id: true, projectId: true, name: true, description: true, thresholds: true, createdAt: true, updatedAt: true } as const;
const versionSummary = { id: true, version: true, caseCount: true, sha256: true, message: true, authorId: true, createdAt: true } as const;

export async function listSuites(db: PrismaClient, projectId: string) {
  const suites = await db.evalSuite.findMany({
    where: { projectId },
    select: { ...suiteSelect, versions: { select: versionSummary, orderBy: { version: "desc" }, take: 1 } },
    orderBy: { name: "asc" },
  });
  return suites.map(({ versions, ...s }) => ({ ...s, latest: versions[0] ?? null }));
}

export async function getSuite(db: PrismaClient, suiteId: string) {
  const suite = await db.evalSuite.findUniqueOrThrow({
    where: { id: suiteId },
    select: { ...suiteSelect, versions: { select: versionSummary, orderBy: { version: "desc" } } },
  });
  const cases = await currentSuiteCases(db, suiteId);
  return { ...suite, draft: cases, problems: validateSuiteCases(cases) };
}

export async function createSuite(db: PrismaClient, actor: Actor, orgId: string, input: { projectId: string; name: string; description: string }) {
  return db.$transaction(async (tx) => {
    if (await tx.evalSuite.findUnique({ where: { projectId_name: { projectId: input.projectId, name: input.name } }, select: { id: true } })) {
      throw new DomainError("CONFLICT", `A suite named "${input.name}" already exists in this project.`);
    }
    const suite = await tx.evalSuite.create({ data: { ...input, createdById: actorId(actor) }, select: suiteSelect });
    await recordAudit(tx, actor, { orgId, action: "suite.create", resourceType: "EvalSuite", resourceId: suite.id, after: suite });
    return suite;
  });
}

export async function updateSuite(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  suiteId: string,
  changes: { name?: string; description?: string; thresholds?: Prisma.InputJsonValue; cases?: unknown[]; append?: boolean },
) {
  // The working copy is the live document: API edits go in as edits everyone connected sees.
  if (changes.cases) {
    const cases = changes.cases as Record<string, unknown>[];
    await editLiveDocument(db, suiteDocName(suiteId), actorId(actor), (doc) => (changes.append ? appendCases(doc, cases) : replaceCases(doc, cases)));
  }
  const cases = changes.cases ? await currentSuiteCases(db, suiteId) : undefined;
  return db.$transaction(async (tx) => {
    const before = await tx.evalSuite.findUniqueOrThrow({ where: { id: suiteId }, select: { ...suiteSelect, draft: true } });
    const after = await tx.evalSuite.update({
      where: { id: suiteId },
      data: { name: changes.name, description: changes.description, thresholds: changes.thresholds, draft: cases as Prisma.InputJsonValue | undefined },
      select: { ...suiteSelect, draft: true },
    });
    const summarize = (s: typeof before) => ({ ...s, draft: undefined, caseCount: (s.draft as unknown[]).length });
    await recordAudit(tx, actor, { orgId, action: "suite.update", resourceType: "EvalSuite", resourceId: suiteId, before: summarize(before), after: summarize(after) });
    return { ...after, draft: after.draft as unknown[] };
  });
}

/** Adds imported cases to the working copy (or replaces it); ids already present are refused, not overwritten. */
export async function addCases(db: PrismaClient, actor: Actor, orgId: string, suiteId: string, cases: EvalCase[], mode: "append" | "replace") {
  const existing = mode === "replace" ? [] : ((await currentSuiteCases(db, suiteId)) as { id?: string }[]);
  const taken = new Set(existing.map((c) => c.id));
  const clashes = cases.filter((c) => taken.has(c.id)).map((c) => c.id);
  if (clashes.length) throw new DomainError("CONFLICT", `These case ids already exist in the suite: ${clashes.slice(0, 10).join(", ")}${clashes.length > 10 ? ", ..." : ""}.`);
  return updateSuite(db, actor, orgId, suiteId, { cases, append: mode === "append" });
}

/**
 * Publishes the working copy as the next immutable version, after validating every case. Cases an
 * import tagged needs-review are published (the people publishing decide) but named in the result and
 * the audit entry, so the page can warn that their verdicts may differ from the source tool's.
 */
export async function publishSuiteVersion(db: PrismaClient, actor: Actor, orgId: string, suiteId: string, message: string) {
  // Built from the server's own copy of the live document, never from what a client sends.
  const raw = await currentSuiteCases(db, suiteId);
  const problems = validateSuiteCases(raw);
  if (raw.length === 0) throw new DomainError("BAD_REQUEST", "This suite has no cases to publish.");
  if (problems.length) {
    const listed = problems.slice(0, 5).map((p) => `case ${p.caseId ?? `#${p.index + 1}`} ${p.field}: ${p.message}`);
    throw new DomainError("BAD_REQUEST", `This suite cannot be published (${problems.length} problem${problems.length === 1 ? "" : "s"}): ${listed.join("; ")}${problems.length > 5 ? "; ..." : ""}.`);
  }
  const cases = raw.map((c) => EvalCaseSchema.parse(c));
  const sha256 = await sha256Hex(canonicalJson(cases));
  return db.$transaction(async (tx) => {
    const latest = await tx.suiteVersion.findFirst({ where: { suiteId }, orderBy: { version: "desc" }, select: { version: true, sha256: true } });
    if (latest?.sha256 === sha256) throw new DomainError("CONFLICT", `Nothing changed since version ${latest.version}.`);
    const version = await tx.suiteVersion.create({
      data: { suiteId, version: (latest?.version ?? 0) + 1, cases: jsonValue(cases), caseCount: cases.length, sha256, message, authorId: actorId(actor) },
      select: versionSummary,
    });
    const needsReview = cases.filter((c) => c.tags.includes(NEEDS_REVIEW_TAG)).map((c) => c.id);
    await recordAudit(tx, actor, { orgId, action: "suite.publish", resourceType: "SuiteVersion", resourceId: version.id, after: { suiteId, ...version, ...(needsReview.length ? { needsReviewCount: needsReview.length } : {}) } });
    return { ...version, needsReview };
  });
}

export async function getSuiteVersion(db: PrismaClient, suiteId: string, version: number) {
  const found = await db.suiteVersion.findUnique({ where: { suiteId_version: { suiteId, version } } });
  if (!found) throw new DomainError("NOT_FOUND", `Version ${version} of this suite does not exist.`);
  return { ...found, cases: parseStoredCases(found.cases) };
}

export type CaseChange = { caseId: string; change: "added" | "removed" | "changed"; fields: string[] };

/** Case-by-case differences between two case lists, matched by id. */
export function diffCases(before: readonly { id?: unknown }[], after: readonly { id?: unknown }[]): CaseChange[] {
  const key = (c: { id?: unknown }, i: number) => (typeof c.id === "string" ? c.id : `#${i + 1}`);
  const old = new Map(before.map((c, i) => [key(c, i), c as Record<string, unknown>]));
  const changes: CaseChange[] = [];
  after.forEach((c, i) => {
    const id = key(c, i);
    const prev = old.get(id);
    old.delete(id);
    if (!prev) return changes.push({ caseId: id, change: "added", fields: [] });
    const now = c as Record<string, unknown>;
    const fields = [...new Set([...Object.keys(prev), ...Object.keys(now)])].filter((f) => canonicalJson(prev[f] ?? null) !== canonicalJson(now[f] ?? null)).sort();
    if (fields.length) changes.push({ caseId: id, change: "changed", fields });
  });
  for (const id of old.keys()) changes.push({ caseId: id, change: "removed", fields: [] });
  return changes;
}
