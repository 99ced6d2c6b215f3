// The text of the policy clauses a reviewed case tests, so the reviewer reads the rule beside the output.
// A clause's id lives beside the policy's text (contracts/policy-clauses.ts): a published version
// records its headings' ids in order, the live document holds the draft's.
import type { PrismaClient } from "@/server/db/generated/client";
import { clauseSection, parseClauses, type Clause } from "@/contracts/policy-clauses";
import { readLivePolicyClauses } from "@/server/collab";

export interface ClauseText {
  id: string;
  /** The clause's heading and body (up to the next heading of the same or a higher level). */
  text: string;
}

const MAX_CLAUSE_CHARS = 8_000;

/** A published version's clauses: its headings in text order with the ids recorded when it was published (old versions: in-text anchors). */
export function versionClauses(content: string, recorded: unknown): Clause[] {
  const ids = Array.isArray(recorded) ? recorded.map((r) => (r as { id?: unknown })?.id) : [];
  return parseClauses(content).map((heading, i) => ({ ...heading, id: typeof ids[i] === "string" && ids[i] ? (ids[i] as string) : heading.id }));
}

/**
 * The texts of the given clause ids among the project's policies: from each policy's latest published
 * version first (what runs were judged against), then its live draft.
 */
export async function clauseTexts(db: PrismaClient, projectId: string, ids: readonly string[]): Promise<Map<string, ClauseText>> {
  const wanted = [...new Set(ids)];
  const found = new Map<string, ClauseText>();
  if (wanted.length === 0) return found;
  const policies = await db.policy.findMany({ where: { projectId }, select: { id: true, versions: { select: { content: true, clauses: true }, orderBy: { version: "desc" }, take: 1 } } });
  const lookIn = (markdown: string, clauses: Clause[]) => {
    for (const id of wanted) {
      if (found.has(id)) continue;
      const text = clauseSection(markdown, clauses, id);
      if (text !== null) found.set(id, { id, text: text.slice(0, MAX_CLAUSE_CHARS) });
    }
  };
  for (const policy of policies) {
    const latest = policy.versions[0];
    if (latest) lookIn(latest.content, versionClauses(latest.content, latest.clauses));
  }
  for (const policy of policies) {
    if (wanted.every((id) => found.has(id))) break;
    const live = await readLivePolicyClauses(policy.id, db);
    if (live) lookIn(live.text, live.clauses);
  }
  return found;
}
