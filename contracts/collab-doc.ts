// The shapes of Hearth's shared documents, shared by the server, the editors and the tests:
// a policy is `getText("content")` (markdown); a suite is `getArray("cases")` of Y.Maps, one key
// per case field, so concurrent edits to different cells of one case both survive.
import * as Y from "yjs";

/** A case as co-edited: any fields, not yet validated (publishing validates it into an EvalCase). */
export type DraftCase = Record<string, unknown>;

export interface LiveDocumentContent {
  text?: string;
  cases?: DraftCase[];
}

/** Case fields stored as JSON strings inside the Y.Map (lists and grader specs). */
export const JSON_CASE_FIELDS = ["choices", "graders", "tags", "clauses"] as const;

export function policyText(doc: Y.Doc): Y.Text {
  return doc.getText("content");
}

export function suiteCases(doc: Y.Doc): Y.Array<Y.Map<unknown>> {
  return doc.getArray<Y.Map<unknown>>("cases");
}

/**
 * A case's place in the suite. Order is a number between the neighbours' rather than the array index,
 * so moving a case is one key write: two people moving the same case cannot duplicate it, and an edit
 * made to the case meanwhile is kept (moving by delete + insert would lose it).
 */
export const POSITION_KEY = "position";

function positionOf(map: Y.Map<unknown>, index: number): number {
  const position = map.get(POSITION_KEY);
  return typeof position === "number" && Number.isFinite(position) ? position : index;
}

/** The case maps in suite order (by position, then by array index for ties). */
export function orderedCaseMaps(array: Y.Array<Y.Map<unknown>>): Y.Map<unknown>[] {
  return array
    .toArray()
    .map((map, index) => ({ map, index, position: positionOf(map, index) }))
    .sort((a, b) => a.position - b.position || a.index - b.index)
    .map((entry) => entry.map);
}

/** A position after every case in the suite. */
export function positionAfterLast(array: Y.Array<Y.Map<unknown>>): number {
  return array.toArray().reduce((max, map, index) => Math.max(max, positionOf(map, index) + 1), 0);
}

/** The position that moves the case at `from` (in suite order) by `delta` places, or null at an end. */
export function movedPosition(ordered: Y.Map<unknown>[], from: number, delta: -1 | 1): number | null {
  const to = from + delta;
  if (to < 0 || to >= ordered.length) return null;
  const at = (i: number) => positionOf(ordered[i], i);
  const [low, high] = delta < 0 ? [to - 1, to] : [to, to + 1];
  if (low < 0) return at(high) - 1;
  if (high >= ordered.length) return at(low) + 1;
  return (at(low) + at(high)) / 2;
}

/** A case as plain JSON: JSON-string fields are parsed back into values when they parse. */
export function caseFromMap(map: Y.Map<unknown>): DraftCase {
  const out: DraftCase = {};
  for (const [key, value] of map.entries()) {
    if (key === POSITION_KEY) continue;
    if ((JSON_CASE_FIELDS as readonly string[]).includes(key) && typeof value === "string") {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        // left as the raw string: validation reports it
      }
    }
    out[key] = value;
  }
  return out;
}

/** A Y.Map for one case: lists and grader specs become JSON strings, other fields stay as they are. */
export function caseToMap(value: DraftCase, position: number): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  map.set(POSITION_KEY, position);
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined || key === POSITION_KEY) continue;
    const isJsonField = (JSON_CASE_FIELDS as readonly string[]).includes(key);
    map.set(key, isJsonField && typeof field !== "string" ? JSON.stringify(field) : field);
  }
  return map;
}

export function readCases(doc: Y.Doc): DraftCase[] {
  return orderedCaseMaps(suiteCases(doc)).map(caseFromMap);
}

export function readContent(kind: "policy" | "suite", doc: Y.Doc): LiveDocumentContent {
  return kind === "policy" ? { text: policyText(doc).toString() } : { cases: readCases(doc) };
}

// Seeds are written by a fixed client id, so two instances that seed the same draft concurrently
// produce identical structs, which Yjs applies once: a belt to the database lock's braces.
const SEED_CLIENT_ID = 1;

/** The update that puts `initial` into an empty document, written deterministically. */
export function seedUpdate(kind: "policy" | "suite", initial: LiveDocumentContent): Uint8Array | null {
  const doc = new Y.Doc();
  doc.clientID = SEED_CLIENT_ID;
  if (kind === "policy") {
    if (!initial.text) return null;
    policyText(doc).insert(0, initial.text);
  } else {
    if (!initial.cases?.length) return null;
    suiteCases(doc).push(initial.cases.map((c, i) => caseToMap(c, i)));
  }
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}
