// Clause ids live in the co-edited document, not in the text: they follow their heading through real
// Yjs edits (renames, moves as delete + insert, clauses inserted before, concurrent editors), old
// in-text ids are migrated once with the same ids, and the text stays exactly what was typed.
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { changedClauses, clauseAnchors, documentClauses, parseClauses, syncClauseAnchors } from "@/contracts/policy-clauses";

const POLICY = `# 1. Refunds
Thirty days.

## 1.1 Sale items
Store credit.

# 2. Shipping
Two days.
`;

function docWith(text: string): Y.Doc {
  const doc = new Y.Doc();
  doc.getText("content").insert(0, text);
  return doc;
}

let counter = 0;
const ids = () => `c-${(++counter).toString().padStart(8, "0")}`;
const byTitle = (doc: Y.Doc) => Object.fromEntries(documentClauses(doc).map((c) => [c.title, c.id]));
const text = (doc: Y.Doc) => doc.getText("content").toString();

/**
 * Replaces `from` with `to` in the text as typing would: only the characters that differ are deleted
 * and inserted (CodeMirror sends an editor's keystrokes to Yjs this way).
 */
function edit(doc: Y.Doc, from: string, to: string) {
  const t = doc.getText("content");
  const at = t.toString().indexOf(from);
  expect(at, `"${from}" in the text`).toBeGreaterThanOrEqual(0);
  let head = 0;
  while (head < from.length && head < to.length && from[head] === to[head]) head++;
  let tail = 0;
  while (tail < from.length - head && tail < to.length - head && from[from.length - 1 - tail] === to[to.length - 1 - tail]) tail++;
  doc.transact(() => {
    t.delete(at + head, from.length - head - tail);
    t.insert(at + head, to.slice(head, to.length - tail));
  });
}

describe("clause ids in the document", () => {
  it("names every heading without touching the text, and reads the same ids back", () => {
    const doc = docWith(POLICY);
    expect(documentClauses(doc).map((c) => c.id)).toEqual(["", "", ""]);
    expect(syncClauseAnchors(doc, ids)).toBe(true);
    expect(text(doc)).toBe(POLICY);
    const clauses = documentClauses(doc);
    expect(clauses.map((c) => [c.number, c.title, c.level, c.line])).toEqual([
      ["1", "Refunds", 1, 1],
      ["1.1", "Sale items", 2, 4],
      ["2", "Shipping", 1, 7],
    ]);
    expect(new Set(clauses.map((c) => c.id)).size).toBe(3);
    expect(clauses.every((c) => /^c-\d{8}$/.test(c.id))).toBe(true);
    // nothing to do the second time
    expect(syncClauseAnchors(doc, ids)).toBe(false);
  });

  it("keeps an id through a rename, a renumbering, a clause inserted before it, and a move of its section (delete + insert) after the rename", () => {
    const doc = docWith(POLICY);
    syncClauseAnchors(doc, ids);
    const before = byTitle(doc);
    edit(doc, "## 1.1 Sale items", "## 1.2 Discounted items");
    syncClauseAnchors(doc, ids);
    expect(byTitle(doc)["Discounted items"]).toBe(before["Sale items"]);
    // a clause typed in before it (the cursor at the start of its heading's line)
    const t = doc.getText("content");
    t.insert(text(doc).indexOf("## 1.2 Discounted items"), "## 1.1 Damaged items\nReplaced.\n\n");
    syncClauseAnchors(doc, ids);
    // its section cut and pasted at the end (every character of the heading deleted and inserted again)
    edit(doc, "## 1.2 Discounted items\nStore credit.\n\n", "");
    syncClauseAnchors(doc, ids); // between the cut and the paste: the id waits, an orphan
    doc.getText("content").insert(text(doc).length, "\n## 1.2 Discounted items\nStore credit.\n");
    syncClauseAnchors(doc, ids);
    const after = byTitle(doc);
    expect(after["Discounted items"]).toBe(before["Sale items"]);
    expect(after.Refunds).toBe(before.Refunds);
    expect(after.Shipping).toBe(before.Shipping);
    expect(after["Damaged items"]).toMatch(/^c-/);
    expect(new Set(Object.values(after)).size).toBe(4);
    expect(text(doc)).not.toContain("{#");
  });

  it("follows a heading whose level changes (a # typed before its first character)", () => {
    const doc = docWith(POLICY);
    syncClauseAnchors(doc, ids);
    const before = byTitle(doc);
    edit(doc, "# 2. Shipping", "## 2. Shipping");
    expect(syncClauseAnchors(doc, ids)).toBe(false);
    expect(documentClauses(doc).find((c) => c.title === "Shipping")).toMatchObject({ id: before.Shipping, level: 2 });
  });

  it("migrates old in-text ids once, with the same ids, and leaves the text as the person wrote it", () => {
    const legacy = "# 1. Refunds {#refunds}\nThirty days.\n\n## 1.1 Sale items   {#refunds-sale}\nStore credit.\n\n# 2. Shipping\n";
    expect(parseClauses(legacy).map((c) => [c.id, c.title])).toEqual([
      ["refunds", "Refunds"],
      ["refunds-sale", "Sale items"],
      ["", "Shipping"],
    ]);
    const doc = docWith(legacy);
    expect(documentClauses(doc).map((c) => c.id)).toEqual(["refunds", "refunds-sale", ""]);
    syncClauseAnchors(doc, ids);
    expect(text(doc)).toBe("# 1. Refunds\nThirty days.\n\n## 1.1 Sale items\nStore credit.\n\n# 2. Shipping\n");
    const clauses = documentClauses(doc);
    expect(clauses.map((c) => c.id).slice(0, 2)).toEqual(["refunds", "refunds-sale"]);
    expect(clauses[2].id).toMatch(/^c-/);
    expect(syncClauseAnchors(doc, ids)).toBe(false);
  });

  it("two editors naming the same new heading at once end with one id on it, the same on both", () => {
    const a = docWith(POLICY);
    syncClauseAnchors(a, ids);
    const b = new Y.Doc();
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
    edit(a, "# 2. Shipping", "# 2. Shipping\n\n## 2.1 Tracking");
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
    syncClauseAnchors(a, () => "c-aaaaaaaa");
    syncClauseAnchors(b, () => "c-bbbbbbbb");
    Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
    expect(byTitle(a).Tracking).toBe("c-aaaaaaaa");
    expect(byTitle(b).Tracking).toBe("c-aaaaaaaa");
    syncClauseAnchors(b, ids);
    Y.applyUpdate(a, Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
    expect([...clauseAnchors(a).keys()]).not.toContain("c-bbbbbbbb");
    expect(byTitle(a)).toEqual(byTitle(b));
  });

  it("ignores headings inside fenced code", () => {
    const doc = docWith("# Real\n```\n# not a clause\n```\n");
    syncClauseAnchors(doc, ids);
    expect(documentClauses(doc).map((c) => c.title)).toEqual(["Real"]);
  });
});

describe("changedClauses", () => {
  const version = (content: string) => ({ content, clauses: parseClauses(content) });

  it("names a clause whose own words changed, with its own text before and after, and not its parent", () => {
    const before = version("# 1. Refunds {#c-r}\nThirty days.\n\n## 1.1 Sale items {#c-s}\nStore credit.\n");
    const after = version("# 1. Refunds {#c-r}\nThirty days.\n\n## 1.1 Sale items {#c-s}\nNo refunds at all.\n");
    expect(changedClauses(before, after)).toEqual([
      { id: "c-s", kind: "CHANGED", number: "1.1", title: "Sale items", before: "## 1.1 Sale items {#c-s}\nStore credit.", after: "## 1.1 Sale items {#c-s}\nNo refunds at all." },
    ]);
  });

  it("names a removed clause, and nothing for a renumbered, re-levelled or reflowed one", () => {
    const before = version("# 1. Refunds {#c-r}\nThirty  days,\nno questions.\n\n## 1.1 Sale items {#c-s}\nStore credit.\n");
    const after = version("## 2 Refunds {#c-r}\nThirty days, no questions.\n");
    expect(changedClauses(before, after)).toEqual([{ id: "c-s", kind: "REMOVED", number: "1.1", title: "Sale items", before: "## 1.1 Sale items {#c-s}\nStore credit.", after: null }]);
  });

  it("names a clause whose title changed", () => {
    expect(changedClauses(version("# Refunds {#c-r}\nThirty days."), version("# Returns {#c-r}\nThirty days.")).map((c) => c.id)).toEqual(["c-r"]);
  });
});
