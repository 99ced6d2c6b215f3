// What the rest of the server asks of live documents: their content (for publishing) and seeding.
import type { PrismaClient } from "@/server/db/client";
import { getDb } from "@/server/db/client";
import { policyText, readContent, type LiveDocumentContent } from "@/contracts/collab-doc";
import { documentClauses, type Clause } from "@/contracts/policy-clauses";
import { parseDocName, policyDocName } from "./names";
import { docFromState, loadStoredState, readDraft, seedIfEmpty } from "./store";

/**
 * The live content of `docName` built from what the database holds (every update any instance
 * accepted), never from a client. Null when the name is invalid or the policy/suite does not exist.
 * A document never opened is seeded from its draft first, so publishing it gives the draft.
 */
export async function readLiveDocument(docName: string, db: PrismaClient = getDb()): Promise<LiveDocumentContent | null> {
  const ref = parseDocName(docName);
  if (!ref) return null;
  if (!(await readDraft(db, ref))) return null;
  await seedIfEmpty(db, docName);
  const doc = docFromState(await loadStoredState(db, docName));
  try {
    return readContent(ref.kind, doc);
  } finally {
    doc.destroy();
  }
}

/** A policy's live text and its clauses with the ids the document holds, read without writing an edit. Null for an unknown policy. */
export async function readLivePolicyClauses(policyId: string, db: PrismaClient = getDb()): Promise<{ text: string; clauses: Clause[] } | null> {
  const docName = policyDocName(policyId);
  if (!(await readDraft(db, { kind: "policy", id: policyId, name: docName }))) return null;
  await seedIfEmpty(db, docName);
  const doc = docFromState(await loadStoredState(db, docName));
  try {
    return { text: policyText(doc).toString(), clauses: documentClauses(doc) };
  } finally {
    doc.destroy();
  }
}

/**
 * Seeds the document with `initial` if nothing was ever stored for it (exactly once across restarts
 * and instances). Without `initial`, seeds from the policy's or suite's draft. Returns true if it seeded.
 */
export async function seedDocumentIfEmpty(docName: string, initial?: LiveDocumentContent, db: PrismaClient = getDb()): Promise<boolean> {
  return seedIfEmpty(db, docName, initial);
}
