import { createHash } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { diffLines } from "@/server/lib/line-diff";
import { clauseProblems, clauseSection, documentClauses, syncClauseAnchors, type Clause } from "./clauses";
import { editLiveDocument, policyDocName, readLiveDocument, replaceText } from "@/server/collab";
import { policyText } from "@/contracts/collab-doc";
import { flagCasesForPolicyVersion } from "@/server/clause-review/service";

/** The policy's current text: the live co-edited document (seeded from the draft on first use). */
export async function currentPolicyText(db: PrismaClient, policyId: string): Promise<string> {
  const live = await readLiveDocument(policyDocName(policyId), db);
  if (live?.text === undefined) throw new DomainError("NOT_FOUND", "Policy not found.");
  return live.text;
}

/**
 * The live document's text and clauses, every heading with its id: ids the document lacks (a new
 * heading, an old policy's in-text `{#id}`) are written into the document first, as an edit everyone
 * connected receives, so the clauses panel, the picker and the next version agree on them.
 */
async function liveClauses(db: PrismaClient, policyId: string, userId: string | null): Promise<{ text: string; clauses: Clause[] }> {
  let out = { text: "", clauses: [] as Clause[] };
  await editLiveDocument(db, policyDocName(policyId), userId, (doc) => {
    syncClauseAnchors(doc);
    out = { text: policyText(doc).toString(), clauses: documentClauses(doc) };
  });
  return out;
}

export const policySelect = { id: true, projectId: true, key: true, title: true, createdAt: true, updatedAt: true } as const;
const versionSummary = { id: true, version: true, sha256: true, message: true, authorId: true, createdAt: true } as const;

export async function listPolicies(db: PrismaClient, projectId: string) {
  const policies = await db.policy.findMany({
    where: { projectId },
    select: { ...policySelect, versions: { select: versionSummary, orderBy: { version: "desc" }, take: 1 } },
    orderBy: { title: "asc" },
  });
  return policies.map(({ versions, ...p }) => ({ ...p, latest: versions[0] ?? null }));
}

export async function getPolicy(db: PrismaClient, policyId: string) {
  const policy = await db.policy.findUniqueOrThrow({
    where: { id: policyId },
    select: { ...policySelect, versions: { select: versionSummary, orderBy: { version: "desc" } } },
  });
  const { text: draft, clauses } = await liveClauses(db, policyId, null);
  return { ...policy, draft, clauses };
}

/** How much of a clause's text the picker shows. */
const CLAUSE_TEXT_CHARS = 600;

/**
 * Every policy of the project with the clauses its working copy holds (ids named first, as for
 * getPolicy) and the start of each clause's text: what a suite editor's clause picker searches.
 */
export async function projectClauses(db: PrismaClient, projectId: string) {
  const policies = await db.policy.findMany({ where: { projectId }, select: { id: true, key: true, title: true }, orderBy: { title: "asc" }, take: 200 });
  const out = [];
  for (const policy of policies) {
    const { text, clauses } = await liveClauses(db, policy.id, null);
    // the section without its heading line (the picker shows the title), whitespace folded
    const body = (id: string) => (clauseSection(text, clauses, id) ?? "").split("\n").slice(1).join(" ").replace(/\s+/g, " ").trim();
    out.push({
      ...policy,
      clauses: clauses.map((c) => {
        const t = c.id ? body(c.id) : "";
        return { id: c.id, number: c.number, title: c.title, level: c.level, text: t.length > CLAUSE_TEXT_CHARS ? `${t.slice(0, CLAUSE_TEXT_CHARS)}…` : t };
      }),
    });
  }
  return out;
}

export async function createPolicy(db: PrismaClient, actor: Actor, orgId: string, input: { projectId: string; key: string; title: string; draft: string }) {
  return db.$transaction(async (tx) => {
    if (await tx.policy.findUnique({ where: { projectId_key: { projectId: input.projectId, key: input.key } }, select: { id: true } })) {
      throw new DomainError("CONFLICT", `A policy with the key "${input.key}" already exists in this project.`);
    }
    const policy = await tx.policy.create({
      data: { ...input, createdById: actorId(actor) },
      select: policySelect,
    });
    await recordAudit(tx, actor, { orgId, action: "policy.create", resourceType: "Policy", resourceId: policy.id, after: policy });
    return policy;
  });
}

export async function updatePolicyDraft(db: PrismaClient, actor: Actor, orgId: string, policyId: string, changes: { title?: string; draft?: string }) {
  const draft = changes.draft;
  // The working copy is the live document: an API edit goes in as an edit everyone connected sees.
  // Only the changed middle is replaced: headings outside it keep their ids; one inside it that comes
  // back with the same title gets its id back (see contracts/policy-clauses.ts).
  if (draft !== undefined) {
    await editLiveDocument(db, policyDocName(policyId), actorId(actor), (doc) => {
      replaceText(doc, draft);
      syncClauseAnchors(doc);
    });
  }
  return db.$transaction(async (tx) => {
    const before = await tx.policy.findUniqueOrThrow({ where: { id: policyId }, select: { ...policySelect, draft: true } });
    const after = await tx.policy.update({ where: { id: policyId }, data: { title: changes.title, draft }, select: { ...policySelect, draft: true } });
    await recordAudit(tx, actor, { orgId, action: "policy.update", resourceType: "Policy", resourceId: policyId, before, after });
    return after;
  });
}

/**
 * Publishes the current content as the next immutable version: the text exactly as written, and the
 * clauses with the document's ids (headings without one get one first, kept by the working copy so
 * the next version cites the same clauses).
 */
export async function publishPolicyVersion(db: PrismaClient, actor: Actor, orgId: string, policyId: string, message: string) {
  const { text: source, clauses } = await liveClauses(db, policyId, actorId(actor));
  const problems = clauseProblems(clauses);
  if (!source.trim()) problems.unshift("The policy is empty.");
  if (problems.length) throw new DomainError("BAD_REQUEST", `This policy cannot be published: ${problems.join(" ")}`);
  const sha256 = createHash("sha256").update(source).digest("hex");
  const version = await db.$transaction(async (tx) => {
    const latest = await tx.policyVersion.findFirst({ where: { policyId }, orderBy: { version: "desc" }, select: { version: true, sha256: true } });
    if (latest?.sha256 === sha256) throw new DomainError("CONFLICT", `Nothing changed since version ${latest.version}.`);
    await tx.policy.update({ where: { id: policyId }, data: { draft: source } });
    const version = await tx.policyVersion.create({
      data: { policyId, version: (latest?.version ?? 0) + 1, content: source, clauses: clauses.map(({ id, number, title, level }) => ({ id, number, title, level })), sha256, message, authorId: actorId(actor) },
      select: { ...versionSummary, clauses: true },
    });
    await recordAudit(tx, actor, { orgId, action: "policy.publish", resourceType: "PolicyVersion", resourceId: version.id, after: { policyId, version: version.version, sha256, message } });
    return version;
  });
  // Right after, not inside: finding the citing cases reads every suite's live document. It is idempotent.
  const review = await flagCasesForPolicyVersion(db, actor, orgId, version.id);
  return { ...version, review };
}

export async function getPolicyVersion(db: PrismaClient, policyId: string, version: number) {
  const found = await db.policyVersion.findUnique({ where: { policyId_version: { policyId, version } } });
  if (!found) throw new DomainError("NOT_FOUND", `Version ${version} of this policy does not exist.`);
  return found;
}

/** What changed between two versions (or a version and the working copy, `to: "draft"`). */
export async function diffPolicyVersions(db: PrismaClient, policyId: string, from: number | "empty", to: number | "draft") {
  const before = from === "empty" ? "" : (await getPolicyVersion(db, policyId, from)).content;
  const after = to === "draft" ? await currentPolicyText(db, policyId) : (await getPolicyVersion(db, policyId, to)).content;
  return diffLines(before, after);
}
