// What the rest of the server asks of live documents: their content (for publishing) and seeding.
import type { PrismaClient } from "@/server/db/client";
import { getDb } from "@/server/db/client";
import { readContent, type LiveDocumentContent } from "@/contracts/collab-doc";
import { parseDocName } from "./names";
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

/**
 * Seeds the document with `initial` if nothing was ever stored for it (exactly once across restarts
 * and instances). Without `initial`, seeds from the policy's or suite's draft. Returns true if it seeded.
 */
export async function seedDocumentIfEmpty(docName: string, initial?: LiveDocumentContent, db: PrismaClient = getDb()): Promise<boolean> {
  return seedIfEmpty(db, docName, initial);
}
