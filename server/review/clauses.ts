// The text of the policy clauses a reviewed case tests, so the reviewer reads the rule beside the output.
import type { PrismaClient } from "@/server/db/generated/client";
import { parseClauses } from "@/server/policies/clauses";

export interface ClauseText {
  id: string;
  /** The clause's heading and body (up to the next heading of the same or a higher level). */
  text: string;
}

const MAX_CLAUSE_CHARS = 8_000;

/** A clause's heading and body in a policy's markdown, or null when the policy has no such clause. */
export function clauseSection(markdown: string, id: string): string | null {
  const clauses = parseClauses(markdown);
  const at = clauses.findIndex((c) => c.id === id);
  if (at < 0) return null;
  const clause = clauses[at];
  const end = clauses.slice(at + 1).find((c) => c.level <= clause.level);
  const lines = markdown.split("\n").slice(clause.line - 1, end ? end.line - 1 : undefined);
  return lines.join("\n").trim().slice(0, MAX_CLAUSE_CHARS);
}

/** The texts of the given clause ids among the project's policies (their latest published version, else the draft). */
export async function clauseTexts(db: PrismaClient, projectId: string, ids: readonly string[]): Promise<Map<string, ClauseText>> {
  const wanted = [...new Set(ids)];
  const found = new Map<string, ClauseText>();
  if (wanted.length === 0) return found;
  const policies = await db.policy.findMany({
    where: { projectId },
    select: { draft: true, versions: { select: { content: true }, orderBy: { version: "desc" }, take: 1 } },
  });
  for (const policy of policies) {
    const markdown = policy.versions[0]?.content ?? policy.draft;
    for (const id of wanted) {
      if (found.has(id)) continue;
      const text = clauseSection(markdown, id);
      if (text !== null) found.set(id, { id, text });
    }
  }
  return found;
}
