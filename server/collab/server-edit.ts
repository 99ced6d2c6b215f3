// Edits made by the server itself (API clients replacing a draft, clause ids added at publish), stored
// as ordinary updates so every connected client and every instance receives them like anyone's edit.
import * as Y from "yjs";
import type { PrismaClient } from "@/server/db/client";
import { appendUpdates, docFromState, loadStoredState, seedIfEmpty } from "./store";
import { caseToMap, policyText, positionAfterLast, suiteCases, type DraftCase } from "@/contracts/collab-doc";

export async function editLiveDocument(db: PrismaClient, docName: string, userId: string | null, edit: (doc: Y.Doc) => void): Promise<void> {
  await seedIfEmpty(db, docName);
  const doc = docFromState(await loadStoredState(db, docName));
  try {
    const before = Y.encodeStateVector(doc);
    doc.transact(() => edit(doc));
    const update = Y.encodeStateAsUpdate(doc, before);
    const empty = Y.encodeStateAsUpdate(new Y.Doc(), Y.encodeStateVector(new Y.Doc()));
    if (update.length > empty.length) await appendUpdates(db, docName, [{ update, userId }]);
  } finally {
    doc.destroy();
  }
}

/** Replaces a policy's text, touching only the changed middle so others' cursors elsewhere stay put. */
export function replaceText(doc: Y.Doc, next: string): void {
  const text = policyText(doc);
  const current = text.toString();
  if (current === next) return;
  let start = 0;
  while (start < current.length && start < next.length && current[start] === next[start]) start++;
  let end = 0;
  while (end < current.length - start && end < next.length - start && current[current.length - 1 - end] === next[next.length - 1 - end]) end++;
  text.delete(start, current.length - start - end);
  text.insert(start, next.slice(start, next.length - end));
}

export function replaceCases(doc: Y.Doc, cases: DraftCase[]): void {
  const array = suiteCases(doc);
  array.delete(0, array.length);
  array.push(cases.map((c, i) => caseToMap(c, i)));
}

export function appendCases(doc: Y.Doc, cases: DraftCase[]): void {
  const array = suiteCases(doc);
  const start = positionAfterLast(array);
  array.push(cases.map((c, i) => caseToMap(c, start + i)));
}
