// The shapes of Hearth's shared documents, shared by the server, the editors and the tests:
// a policy is `getText("content")` (markdown); a suite is `getArray("cases")` of Y.Maps, one key
// per case field, so concurrent edits to different cells of one case both survive.
import * as Y from "yjs";

export type SuiteCase = Record<string, unknown>;

export interface LiveDocumentContent {
  text?: string;
  cases?: SuiteCase[];
}

/** Case fields stored as JSON strings inside the Y.Map (lists and grader specs). */
export const JSON_CASE_FIELDS = ["choices", "graders", "tags", "clauses"] as const;

export function policyText(doc: Y.Doc): Y.Text {
  return doc.getText("content");
}

export function suiteCases(doc: Y.Doc): Y.Array<Y.Map<unknown>> {
  return doc.getArray<Y.Map<unknown>>("cases");
}

/** A case as plain JSON: JSON-string fields are parsed back into values when they parse. */
export function caseFromMap(map: Y.Map<unknown>): SuiteCase {
  const out: SuiteCase = {};
  for (const [key, value] of map.entries()) {
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
export function caseToMap(value: SuiteCase): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  for (const [key, field] of Object.entries(value)) {
    if (field === undefined) continue;
    const isJsonField = (JSON_CASE_FIELDS as readonly string[]).includes(key);
    map.set(key, isJsonField && typeof field !== "string" ? JSON.stringify(field) : field);
  }
  return map;
}

export function readCases(doc: Y.Doc): SuiteCase[] {
  return suiteCases(doc).toArray().map(caseFromMap);
}

export function readContent(kind: "policy" | "suite", doc: Y.Doc): LiveDocumentContent {
  return kind === "policy" ? { text: policyText(doc).toString() } : { cases: readCases(doc) };
}

/** True when the document holds no content of its kind. */
export function isEmptyContent(kind: "policy" | "suite", doc: Y.Doc): boolean {
  return kind === "policy" ? policyText(doc).length === 0 : suiteCases(doc).length === 0;
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
    suiteCases(doc).push(initial.cases.map(caseToMap));
  }
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}
