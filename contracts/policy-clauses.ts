// A policy's clauses: every markdown heading is one, and each keeps a stable id that lives in the
// co-edited document beside the text, never in it (what a person writes is what is published). The id
// is held by `getMap("clauseAnchors")`: id -> { pos, title }, `pos` a Yjs relative position on the first
// character of the heading's line, so it follows that character through every edit: renaming or
// renumbering the heading, inserting a clause before it, editing other lines. Moving a section (cut
// and paste, or a line move, which delete the line and insert it again) deletes that character: the
// id is then an orphan, and the next sync gives it back to a heading with no id and the title it last
// had (kept fresh by every sync), so the move keeps the link too. Headings still without an id get a new
// one. Old policies wrote ids into the heading as `{#id}`: the sync moves each one into the map, with the
// same id, and takes it out of the text, once.
//
// Shared by the server (publishing, the API, the MCP tools) and the editor (the live clauses panel;
// an editor syncs as its person types), so both see the same clauses with the same ids.
import * as Y from "yjs";

export interface Clause {
  /** Stable id ("" for a heading not yet given one: a sync gives it one). */
  id: string;
  /** The heading's leading number, e.g. "4.2", if it has one. */
  number: string | null;
  title: string;
  level: number;
  /** 1-based line of the heading in the text. */
  line: number;
}

interface Heading extends Clause {
  /** Offsets of the line's first character and of its end (before the newline). */
  start: number;
  end: number;
  /** An old in-text `{#id}`: the id and the offset where it (with the spaces before it) begins. */
  legacy: { id: string; at: number } | null;
}

interface AnchorEntry {
  pos: unknown;
  title: string;
}

const HEADING = /^(#{1,6})\s+(.*?)\s*$/;
const LEGACY_ANCHOR = /\s*\{#([a-z0-9][a-z0-9._-]{0,63})\}\s*$/;
const NUMBER = /^(\d+(?:\.\d+)*)\.?\s+/;
export const CLAUSE_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function clauseAnchors(doc: Y.Doc): Y.Map<AnchorEntry> {
  return doc.getMap<AnchorEntry>("clauseAnchors");
}

/** Every markdown heading of the text, outside fenced code blocks. */
function headingsOf(markdown: string): Heading[] {
  const out: Heading[] = [];
  let fenced = false;
  let offset = 0;
  markdown.split("\n").forEach((raw, index) => {
    const start = offset;
    offset += raw.length + 1;
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (fenced) return;
    const heading = HEADING.exec(raw);
    if (!heading) return;
    let text = heading[2];
    const anchor = LEGACY_ANCHOR.exec(raw);
    if (anchor) text = text.slice(0, Math.max(0, text.length - anchor[0].trimEnd().length)).trimEnd();
    const number = NUMBER.exec(text);
    out.push({
      id: "",
      number: number?.[1] ?? null,
      title: (number ? text.slice(number[0].length) : text).trim(),
      level: heading[1].length,
      line: index + 1,
      start,
      end: start + raw.length,
      legacy: anchor ? { id: anchor[1], at: start + anchor.index } : null,
    });
  });
  return out;
}

/** The headings of a plain text (a published version, an import): ids only from old in-text anchors. */
export function parseClauses(markdown: string): Clause[] {
  return headingsOf(markdown).map(({ number, title, level, line, legacy }) => ({ id: legacy?.id ?? "", number, title, level, line }));
}

/** Where an anchor stands: on a live heading, or an orphan (its character deleted, or its line no longer a heading). */
function resolve(doc: Y.Doc, text: Y.Text, headings: Heading[]) {
  const attached = new Map<Heading, string>();
  const orphans: Array<{ id: string; entry: AnchorEntry }> = [];
  const losers: string[] = [];
  const ids = [...clauseAnchors(doc).keys()].sort();
  for (const id of ids) {
    const entry = clauseAnchors(doc).get(id)!;
    const index = anchorIndex(doc, text, entry.pos);
    const heading = index === null ? undefined : headings.find((h) => index >= h.start && index <= h.end);
    if (!heading) orphans.push({ id, entry });
    // two ids on one heading (two editors named it at once): the smaller id keeps it
    else if (attached.has(heading)) losers.push(id);
    else attached.set(heading, id);
  }
  return { attached, orphans, losers };
}

function anchorIndex(doc: Y.Doc, text: Y.Text, pos: unknown): number | null {
  try {
    const rel = Y.createRelativePositionFromJSON(pos);
    if (!rel.item) return null;
    const item = Y.getItem(doc.store, rel.item);
    if (!(item instanceof Y.Item) || item.deleted) return null;
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, doc);
    return abs && abs.type === text ? abs.index : null;
  } catch {
    return null;
  }
}

/** The clauses the document holds now, in text order, with their ids ("" where none yet). Reads only. */
export function documentClauses(doc: Y.Doc, textName = "content"): Clause[] {
  const text = doc.getText(textName);
  const headings = headingsOf(text.toString());
  const { attached } = resolve(doc, text, headings);
  return headings.map((h) => ({ id: attached.get(h) ?? h.legacy?.id ?? "", number: h.number, title: h.title, level: h.level, line: h.line }));
}

/**
 * A clause's heading and body: its lines up to the next heading of the same or a higher level (sub-clauses
 * included), or with `own`, up to the next heading of any level (its own words only); null when no clause
 * has that id.
 */
export function clauseSection(markdown: string, clauses: readonly Clause[], id: string, options: { own?: boolean } = {}): string | null {
  const at = clauses.findIndex((c) => c.id === id);
  if (at < 0) return null;
  const clause = clauses[at];
  const end = options.own ? clauses[at + 1] : clauses.slice(at + 1).find((c) => c.level <= clause.level);
  return markdown
    .split("\n")
    .slice(clause.line - 1, end ? end.line - 1 : undefined)
    .join("\n")
    .trim();
}

/** A new clause id: "c-" and 8 hex digits (WebCrypto: browser and Node alike). */
export function newClauseId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  return `c-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/**
 * Brings the document's ids in line with its headings (see the top of this file): old in-text ids
 * moved out of the text, orphans given back by title, new headings named, titles refreshed, a second
 * id on one heading dropped. Writes nothing when all is in order; returns whether it wrote.
 */
export function syncClauseAnchors(doc: Y.Doc, newId: () => string = newClauseId, textName = "content"): boolean {
  const text = doc.getText(textName);
  const anchors = clauseAnchors(doc);
  let changed = false;
  doc.transact(() => {
    // 1. old in-text ids, from the end so earlier offsets hold
    const legacy = headingsOf(text.toString()).filter((h) => h.legacy);
    for (const h of [...legacy].reverse()) {
      text.delete(h.legacy!.at, h.end - h.legacy!.at);
      changed = true;
    }
    if (legacy.length) {
      const now = headingsOf(text.toString());
      const held = new Set(resolve(doc, text, now).attached.values());
      for (const h of legacy) {
        const same = now.find((n) => n.line === h.line)!;
        // an id already held by a live heading (or an earlier heading of this text) stays there; this copy is dropped
        if (held.has(h.legacy!.id)) continue;
        held.add(h.legacy!.id);
        anchors.set(h.legacy!.id, { pos: Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, same.start, 0)), title: same.title });
      }
    }
    const headings = headingsOf(text.toString());
    const { attached, orphans, losers } = resolve(doc, text, headings);
    for (const id of losers) {
      anchors.delete(id);
      changed = true;
    }
    const anchorAt = (h: Heading) => Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, h.start, 0));
    // 2. orphans back to the heading with their title (a moved section), oldest-named first
    const free = headings.filter((h) => !attached.has(h));
    for (const orphan of orphans) {
      const at = free.findIndex((h) => h.title === orphan.entry.title);
      if (at < 0) continue;
      const [h] = free.splice(at, 1);
      anchors.set(orphan.id, { pos: anchorAt(h), title: h.title });
      attached.set(h, orphan.id);
      changed = true;
    }
    // 3. new headings
    const taken = new Set(anchors.keys());
    for (const h of free) {
      let id = newId();
      while (taken.has(id)) id = newId();
      taken.add(id);
      anchors.set(id, { pos: anchorAt(h), title: h.title });
      attached.set(h, id);
      changed = true;
    }
    // 4. titles kept fresh, so a heading renamed and then moved is still found
    for (const [h, id] of attached) {
      const entry = anchors.get(id)!;
      if (entry.title !== h.title) {
        anchors.set(id, { pos: entry.pos, title: h.title });
        changed = true;
      }
    }
  });
  return changed;
}

/**
 * Problems that stop a policy from being published. Ids come from the document, so only an untitled
 * heading is a problem the person must fix.
 */
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

export interface ClauseChange {
  id: string;
  kind: "CHANGED" | "REMOVED";
  /** The clause as it was (number and title from the earlier version). */
  number: string | null;
  title: string;
  /** Its own text (heading and body, sub-clauses apart) before and after; after is null when removed. */
  before: string;
  after: string | null;
}

/** What a clause says, for comparing two versions: its title and body, whitespace folded; its number and heading level are not its words. */
function clauseWords(markdown: string, clauses: readonly Clause[], clause: Clause): string {
  const own = clauseSection(markdown, clauses, clause.id, { own: true }) ?? "";
  return [clause.title, ...own.split("\n").slice(1)].join("\n").replace(/\s+/g, " ").trim();
}

/**
 * The clauses of `before` that `after` changed (its own words differ) or removed, matched by id: a clause
 * renumbered, moved or re-levelled with the same words is unchanged, and so is a clause whose sub-clause
 * changed (the sub-clause is a clause of its own). Clauses without an id are not citable and are skipped.
 */
export function changedClauses(before: { content: string; clauses: readonly Clause[] }, after: { content: string; clauses: readonly Clause[] }): ClauseChange[] {
  const now = new Map(after.clauses.filter((c) => c.id).map((c) => [c.id, c]));
  const out: ClauseChange[] = [];
  for (const clause of before.clauses) {
    if (!clause.id) continue;
    const old = clauseSection(before.content, before.clauses, clause.id, { own: true }) ?? "";
    const next = now.get(clause.id);
    if (!next) out.push({ id: clause.id, kind: "REMOVED", number: clause.number, title: clause.title, before: old, after: null });
    else if (clauseWords(before.content, before.clauses, clause) !== clauseWords(after.content, after.clauses, next)) {
      out.push({ id: clause.id, kind: "CHANGED", number: clause.number, title: clause.title, before: old, after: clauseSection(after.content, after.clauses, clause.id, { own: true }) ?? "" });
    }
  }
  return out;
}
