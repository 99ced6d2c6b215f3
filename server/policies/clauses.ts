import { randomBytes } from "node:crypto";

export interface Clause {
  /** Stable id, written into the markdown as `{#id}` at the end of the heading. */
  id: string;
  /** The heading's leading number, e.g. "4.2", if it has one. */
  number: string | null;
  title: string;
  level: number;
  line: number;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*$/;
const ANCHOR = /\s*\{#([a-z0-9][a-z0-9._-]{0,63})\}\s*$/;
const NUMBER = /^(\d+(?:\.\d+)*)\.?\s+/;

/** Every markdown heading is a clause; fenced code blocks are skipped. */
export function parseClauses(markdown: string): Clause[] {
  const clauses: Clause[] = [];
  let fenced = false;
  markdown.split("\n").forEach((raw, index) => {
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (fenced) return;
    const heading = HEADING.exec(raw);
    if (!heading) return;
    let text = heading[2];
    const anchor = ANCHOR.exec(text);
    if (anchor) text = text.slice(0, anchor.index);
    const number = NUMBER.exec(text);
    clauses.push({
      id: anchor?.[1] ?? "",
      number: number?.[1] ?? null,
      title: (number ? text.slice(number[0].length) : text).trim(),
      level: heading[1].length,
      line: index + 1,
    });
  });
  return clauses;
}

/**
 * Gives every heading without an id a new random one, leaving existing ids alone, so a clause keeps its
 * id through renumbering and rewording. Returns the content unchanged when all headings have ids.
 */
export function assignClauseIds(markdown: string, newId: () => string = () => `c-${randomBytes(4).toString("hex")}`): string {
  let fenced = false;
  const taken = new Set(parseClauses(markdown).map((c) => c.id).filter(Boolean));
  return markdown
    .split("\n")
    .map((line) => {
      if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
      if (fenced || !HEADING.test(line) || ANCHOR.test(line)) return line;
      let id = newId();
      while (taken.has(id)) id = newId();
      taken.add(id);
      return `${line.replace(/\s+$/, "")} {#${id}}`;
    })
    .join("\n");
}

/** Problems that stop a policy from being published. */
export function clauseProblems(clauses: Clause[]): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const clause of clauses) {
    if (!clause.title) problems.push(`Line ${clause.line}: a heading needs a title.`);
    if (clause.id && seen.has(clause.id)) problems.push(`Line ${clause.line}: clause id "${clause.id}" is also used on line ${seen.get(clause.id)}.`);
    if (clause.id) seen.set(clause.id, clause.line);
  }
  return problems;
}
