// Durable storage of shared documents: an append-only log of Yjs updates (CollabUpdate) and a
// compacted snapshot (CollabSnapshot) covering every update up to `throughId`.
//
// Invariants:
// - an update is INSERTed before the server applies or relays it (see hub.ts);
// - a snapshot is only ever built from what the database holds, never from a server's memory,
//   so a document that failed to load cannot overwrite stored state with an empty one;
// - snapshot and log are read in ONE statement, so a concurrent compaction cannot make a reader
//   miss updates (it sees the old snapshot with the old log, or the new one with the rest);
// - seeding from the draft happens under a per-document advisory lock, only when neither a
//   snapshot nor any update exists.
import * as Y from "yjs";
import { Prisma, type PrismaClient } from "@/server/db/client";
import { parseDocName, type CollabDocRef } from "./names";
import { readContent, seedUpdate, type LiveDocumentContent, type SuiteCase } from "./content";

export interface NewUpdate {
  update: Uint8Array;
  userId: string | null;
}

export interface StoredState {
  /** The snapshot (if any) followed by the log after it, in id order. */
  updates: Uint8Array[];
  /** The snapshot's `throughId`, or 0 without one. */
  throughId: bigint;
  /** The highest update id seen (or throughId when the log is empty). */
  maxId: bigint;
  /** Number of log rows after the snapshot. */
  logLength: number;
  /**
   * The oldest transaction still running when this was read (the snapshot's xmin): every update this
   * read could not see was stored by a transaction with `xid` at or above it. Pass it to readUpdatesSince.
   */
  horizon: bigint;
}

const toBytes = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength);

/** Appends updates in one statement and returns their ids, in order. */
export async function appendUpdates(db: PrismaClient, docName: string, updates: NewUpdate[]): Promise<bigint[]> {
  if (updates.length === 0) return [];
  const values = Prisma.join(updates.map((u) => Prisma.sql`(${docName}, ${toBytes(u.update)}, ${u.userId})`));
  const rows = await db.$queryRaw<{ id: bigint }[]>`
    INSERT INTO "CollabUpdate" ("docName", "update", "userId") VALUES ${values} RETURNING "id"`;
  return rows.map((r) => BigInt(r.id));
}

interface StateRow {
  kind: "h" | "s" | "u";
  id: bigint;
  data: Uint8Array;
}

/** The snapshot and the log after it, read consistently in one statement. */
export async function loadStoredState(db: PrismaClient, docName: string): Promise<StoredState> {
  const rows = await db.$queryRaw<StateRow[]>`
    WITH snap AS (SELECT "state", "throughId" FROM "CollabSnapshot" WHERE "docName" = ${docName})
    SELECT 'h' AS kind, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS id, NULL::bytea AS data
    UNION ALL
    SELECT 's' AS kind, "throughId" AS id, "state" AS data FROM snap
    UNION ALL
    SELECT 'u' AS kind, "id", "update" AS data FROM "CollabUpdate"
      WHERE "docName" = ${docName} AND "id" > COALESCE((SELECT "throughId" FROM snap), 0)
    ORDER BY kind, id`;
  let throughId = 0n;
  let maxId = 0n;
  let logLength = 0;
  let horizon = 0n;
  const updates: Uint8Array[] = [];
  for (const row of rows) {
    const id = BigInt(row.id);
    if (row.kind === "h") {
      horizon = id;
      continue;
    }
    if (row.kind === "s") throughId = id;
    else logLength++;
    if (id > maxId) maxId = id;
    updates.push(new Uint8Array(row.data));
  }
  return { updates, throughId, maxId, logLength, horizon };
}

export interface RemoteUpdate {
  docName: string;
  id: bigint;
  update: Uint8Array;
}

/**
 * Updates of the given documents stored by transactions that had not ended when `horizon` was taken
 * (StoredState.horizon, or the horizon an earlier call returned): everything that read could not
 * see, plus a few rows it could (callers skip ids they already applied; applying a Yjs update twice
 * is harmless anyway). Ids are taken at INSERT but become visible at COMMIT, not in id order, which is
 * why this goes by transaction, not by id. Returns the horizon for the next call.
 */
export async function readUpdatesSince(db: PrismaClient, docNames: string[], horizon: bigint): Promise<{ updates: RemoteUpdate[]; horizon: bigint }> {
  const rows = await db.$queryRaw<{ horizon: string; docName: string | null; id: bigint | null; update: Uint8Array | null }[]>`
    WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
    SELECT h.xmin::text AS horizon, u."docName", u."id", u."update"
    FROM h LEFT JOIN "CollabUpdate" u ON u."docName" = ANY(${docNames}::text[]) AND u."xid" >= ${horizon.toString()}::xid8
    ORDER BY u."id"`;
  return {
    updates: rows.filter((r) => r.id !== null).map((r) => ({ docName: r.docName!, id: BigInt(r.id!), update: new Uint8Array(r.update!) })),
    horizon: BigInt(rows[0].horizon),
  };
}

export function docFromState(state: StoredState): Y.Doc {
  const doc = new Y.Doc();
  doc.transact(() => {
    for (const update of state.updates) Y.applyUpdate(doc, update);
  }, "load");
  return doc;
}

async function hasStoredState(db: PrismaClient, docName: string): Promise<boolean> {
  const rows = await db.$queryRaw<{ found: boolean }[]>`
    SELECT (EXISTS (SELECT 1 FROM "CollabSnapshot" WHERE "docName" = ${docName})
         OR EXISTS (SELECT 1 FROM "CollabUpdate" WHERE "docName" = ${docName})) AS found`;
  return rows[0]?.found === true;
}

/** The draft a document starts from: `Policy.draft` or `EvalSuite.draft`; null if the resource is gone. */
export async function readDraft(db: PrismaClient, ref: CollabDocRef): Promise<LiveDocumentContent | null> {
  if (ref.kind === "policy") {
    const policy = await db.policy.findUnique({ where: { id: ref.id }, select: { draft: true } });
    return policy ? { text: policy.draft } : null;
  }
  const suite = await db.evalSuite.findUnique({ where: { id: ref.id }, select: { draft: true } });
  if (!suite) return null;
  return { cases: Array.isArray(suite.draft) ? (suite.draft as SuiteCase[]) : [] };
}

/**
 * Puts `initial` (or, when omitted, the resource's draft) into the document if nothing was ever
 * stored for it. Safe against restarts and against instances racing: the check and the insert run
 * under a transaction-scoped advisory lock on the document name. Returns true if it seeded.
 */
export async function seedIfEmpty(db: PrismaClient, docName: string, initial?: LiveDocumentContent): Promise<boolean> {
  const ref = parseDocName(docName);
  if (!ref) throw new Error(`Not a collaborative document name: ${docName}`);
  if (await hasStoredState(db, docName)) return false;
  const content = initial ?? (await readDraft(db, ref));
  if (!content) return false;
  const update = seedUpdate(ref.kind, content);
  if (!update) return false;
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`collab:${docName}`}))`;
    const found = await tx.$queryRaw<{ found: boolean }[]>`
      SELECT (EXISTS (SELECT 1 FROM "CollabSnapshot" WHERE "docName" = ${docName})
           OR EXISTS (SELECT 1 FROM "CollabUpdate" WHERE "docName" = ${docName})) AS found`;
    if (found[0]?.found) return false;
    await tx.$executeRaw`INSERT INTO "CollabUpdate" ("docName", "update", "userId") VALUES (${docName}, ${toBytes(update)}, NULL)`;
    return true;
  });
}

export interface CompactionResult {
  compacted: boolean;
  throughId: bigint;
  /** Log rows folded into the snapshot. */
  folded: number;
}

/**
 * Folds the log into the snapshot and mirrors the content into the resource's draft. Optimistic:
 * the snapshot row is replaced only if it is still the one that was read, so two compactions
 * (two instances) never lose each other's updates.
 */
export async function compactDocument(db: PrismaClient, docName: string, options: { minLog?: number } = {}): Promise<CompactionResult> {
  const ref = parseDocName(docName);
  if (!ref) throw new Error(`Not a collaborative document name: ${docName}`);
  const state = await loadStoredState(db, docName);
  if (state.logLength === 0 || state.logLength < (options.minLog ?? 1)) {
    return { compacted: false, throughId: state.throughId, folded: 0 };
  }
  const doc = docFromState(state);
  const snapshot = toBytes(Y.encodeStateAsUpdate(doc));
  const content = readContent(ref.kind, doc);
  doc.destroy();
  const compacted = await db.$transaction(async (tx) => {
    const replaced =
      state.throughId === 0n
        ? await tx.$executeRaw`
            INSERT INTO "CollabSnapshot" ("docName", "state", "throughId", "updatedAt")
            VALUES (${docName}, ${snapshot}, ${state.maxId}, now()) ON CONFLICT ("docName") DO NOTHING`
        : await tx.$executeRaw`
            UPDATE "CollabSnapshot" SET "state" = ${snapshot}, "throughId" = ${state.maxId}, "updatedAt" = now()
            WHERE "docName" = ${docName} AND "throughId" = ${state.throughId}`;
    if (replaced !== 1) return false;
    await tx.$executeRaw`DELETE FROM "CollabUpdate" WHERE "docName" = ${docName} AND "id" <= ${state.maxId}`;
    // The draft mirror lets non-collaborative readers see recent content.
    if (ref.kind === "policy") {
      await tx.policy.updateMany({ where: { id: ref.id }, data: { draft: content.text ?? "" } });
    } else {
      await tx.evalSuite.updateMany({ where: { id: ref.id }, data: { draft: (content.cases ?? []) as Prisma.InputJsonValue } });
    }
    return true;
  });
  return { compacted, throughId: compacted ? state.maxId : state.throughId, folded: compacted ? state.logLength : 0 };
}
