// Durable storage of shared documents: an append-only log of Yjs updates (CollabUpdate) and a
// compacted snapshot (CollabSnapshot). A document's state is the snapshot plus EVERY log row still
// stored; `throughId` is the snapshot's version (it only grows), not a filter on the log.
//
// Invariants:
// - an update is INSERTed before the server applies or relays it (see hub.ts);
// - a snapshot replaces the previous one only if that is still the one its builder started from
//   (optimistic, on `throughId`), and it contains that snapshot and every log row deleted after it:
//   rows are deleted by id, only the ones known to be in the new snapshot, once it is stored (a
//   crash in between leaves them in both, which is harmless: applying an update twice is a no-op);
// - a snapshot is built from the database (compactDocument) or from the memory of a server that
//   loaded the document from the database and has applied every row it deletes (hub.ts); never from
//   a document that failed to load, so an empty document cannot overwrite stored state;
// - snapshot and log are read in ONE statement, so a concurrent compaction cannot make a reader
//   miss updates (it sees the old snapshot with the old log, or the new one with the rest);
// - a row whose inserting transaction commits after a compaction read the log (ids are taken at
//   INSERT, visible at COMMIT) is not deleted by it and is loaded with the next snapshot;
// - seeding from the draft happens under a per-document advisory lock, only when neither a
//   snapshot nor any update exists.
import * as Y from "yjs";
import { Prisma, type PrismaClient } from "@/server/db/client";
import { parseDocName, type CollabDocRef } from "./names";
import { readContent, seedUpdate, type LiveDocumentContent, type DraftCase } from "@/contracts/collab-doc";

export interface NewUpdate {
  update: Uint8Array;
  userId: string | null;
}

export interface StoredState {
  /** The snapshot (if any) followed by the log, in id order. */
  updates: Uint8Array[];
  /** The snapshot's version (`throughId`), or 0 without one. */
  throughId: bigint;
  /** The highest update id seen (or throughId when the log is empty). */
  maxId: bigint;
  /** Number of log rows. */
  logLength: number;
  /** The log rows' ids, in order. */
  logIds: bigint[];
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

/** The snapshot and the log, read consistently in one statement. */
export async function loadStoredState(db: PrismaClient, docName: string): Promise<StoredState> {
  const rows = await db.$queryRaw<StateRow[]>`
    SELECT 'h' AS kind, pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS id, NULL::bytea AS data
    UNION ALL
    SELECT 's' AS kind, "throughId" AS id, "state" AS data FROM "CollabSnapshot" WHERE "docName" = ${docName}
    UNION ALL
    SELECT 'u' AS kind, "id", "update" AS data FROM "CollabUpdate" WHERE "docName" = ${docName}
    ORDER BY kind, id`;
  let throughId = 0n;
  let maxId = 0n;
  let horizon = 0n;
  const updates: Uint8Array[] = [];
  const logIds: bigint[] = [];
  for (const row of rows) {
    const id = BigInt(row.id);
    if (row.kind === "h") {
      horizon = id;
      continue;
    }
    if (row.kind === "s") throughId = id;
    else logIds.push(id);
    if (id > maxId) maxId = id;
    updates.push(new Uint8Array(row.data));
  }
  return { updates, throughId, maxId, logLength: logIds.length, logIds, horizon };
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
    for (const update of state.updates) {
      try {
        Y.applyUpdate(doc, update);
      } catch (error) {
        // A row that does not decode (stored before updates were validated) must not make the whole
        // document unreadable: it is skipped, and dropped from the log by the next compaction.
        console.error("[collab] skipped a stored update that does not decode:", error);
      }
    }
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
  return { cases: Array.isArray(suite.draft) ? (suite.draft as DraftCase[]) : [] };
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
  /** The snapshot's version after this call (the new one if compacted, else the one found). */
  throughId: bigint;
  /** Log rows folded into the snapshot and deleted. */
  folded: number;
  /** The snapshot written (undefined when nothing was compacted). */
  snapshot?: Uint8Array;
}

export interface SnapshotReplacement {
  /** The full state: the previous snapshot plus at least every row in `foldIds`. */
  snapshot: Uint8Array;
  /** Content mirrored into `Policy.draft` / `EvalSuite.draft`; omitted: the mirror is left as it is. */
  content?: LiveDocumentContent;
  /** The version the snapshot was built on (0: there was none); the replacement happens only if it is still current. */
  expectedThroughId: bigint;
  /** Log rows contained in `snapshot`, deleted with the replacement. */
  foldIds: bigint[];
  /**
   * Rows younger than this (database clock) stay in the log even if folded, so other instances
   * polling the log still see them (they are in the snapshot too; applying them again is harmless).
   */
  minAgeMs?: number;
}

/**
 * Replaces the snapshot if its version is still `expectedThroughId`, then deletes the folded rows
 * (old enough) and mirrors the content. Three short statements, not one transaction: every state in
 * between is complete (see the invariants above), and on the embedded database, where one statement
 * runs at a time, a long transaction would hold up every edit being stored meanwhile. The new
 * version is above the old one and every folded id. Returns the ids deleted, or null if another
 * compaction got there first.
 */
export async function replaceSnapshot(
  db: PrismaClient,
  docName: string,
  replacement: SnapshotReplacement,
): Promise<{ throughId: bigint; deleted: bigint[] } | null> {
  const ref = parseDocName(docName);
  if (!ref) throw new Error(`Not a collaborative document name: ${docName}`);
  const { snapshot, content, expectedThroughId, foldIds } = replacement;
  const next = foldIds.reduce((max, id) => (id > max ? id : max), expectedThroughId + 1n);
  const minAgeSeconds = (replacement.minAgeMs ?? 0) / 1000;
  const replaced =
    expectedThroughId === 0n
      ? await db.$executeRaw`
          INSERT INTO "CollabSnapshot" ("docName", "state", "throughId", "updatedAt")
          VALUES (${docName}, ${toBytes(snapshot)}, ${next}, now()) ON CONFLICT ("docName") DO NOTHING`
      : await db.$executeRaw`
          UPDATE "CollabSnapshot" SET "state" = ${toBytes(snapshot)}, "throughId" = ${next}, "updatedAt" = now()
          WHERE "docName" = ${docName} AND "throughId" = ${expectedThroughId}`;
  if (replaced !== 1) return null;
  // The folded ids as ranges of consecutive ids (one range when a single instance stores), an index
  // range scan each, where `id = ANY(5,000 ids)` took ~50 ms on the embedded database; at most
  // DELETE_CHUNK rows a statement, so edits being stored meanwhile wait for a short one only.
  const deleted: bigint[] = [];
  for (const ranges of idRanges(foldIds, DELETE_CHUNK)) {
    const rows = await db.$queryRaw<{ id: bigint }[]>`
      DELETE FROM "CollabUpdate" u
      USING unnest(${ranges.lo}::bigint[], ${ranges.hi}::bigint[]) AS r(lo, hi)
      WHERE u."docName" = ${docName} AND u."id" BETWEEN r.lo AND r.hi
        AND u."createdAt" <= now() - make_interval(secs => ${minAgeSeconds})
      RETURNING u."id"`;
    for (const row of rows) deleted.push(BigInt(row.id));
  }
  // The draft mirror lets non-collaborative readers see recent content.
  if (!content) {
    // left as it is
  } else if (ref.kind === "policy") {
    await db.policy.updateMany({ where: { id: ref.id }, data: { draft: content.text ?? "" } });
  } else {
    await db.evalSuite.updateMany({ where: { id: ref.id }, data: { draft: (content.cases ?? []) as Prisma.InputJsonValue } });
  }
  return { throughId: next, deleted };
}

const DELETE_CHUNK = 1_000;

/**
 * Sorted, distinct ids as inclusive ranges of consecutive ids (as strings, for bigint[] parameters),
 * in chunks of at most `chunk` ids each.
 */
export function idRanges(ids: bigint[], chunk = Infinity): { lo: string[]; hi: string[] }[] {
  const sorted = [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const chunks: { lo: string[]; hi: string[] }[] = [];
  for (let start = 0; start < sorted.length; start += chunk) {
    const part = sorted.slice(start, start + chunk);
    const lo: string[] = [];
    const hi: string[] = [];
    for (let i = 0; i < part.length; ) {
      let j = i;
      while (j + 1 < part.length && part[j + 1] === part[j] + 1n) j++;
      lo.push(part[i].toString());
      hi.push(part[j].toString());
      i = j + 1;
    }
    chunks.push({ lo, hi });
  }
  return chunks;
}

/**
 * Folds the log into the snapshot, building it from the database, and mirrors the content into the
 * resource's draft. Optimistic: the snapshot row is replaced only if it is still the one that was
 * read, so two compactions (two instances) never lose each other's updates.
 */
export async function compactDocument(db: PrismaClient, docName: string, options: { minLog?: number; minAgeMs?: number } = {}): Promise<CompactionResult> {
  const ref = parseDocName(docName);
  if (!ref) throw new Error(`Not a collaborative document name: ${docName}`);
  const state = await loadStoredState(db, docName);
  if (state.logLength === 0 || state.logLength < (options.minLog ?? 1)) {
    return { compacted: false, throughId: state.throughId, folded: 0 };
  }
  const doc = docFromState(state);
  const snapshot = Y.encodeStateAsUpdate(doc);
  const content = readContent(ref.kind, doc);
  doc.destroy();
  const result = await replaceSnapshot(db, docName, { snapshot, content, expectedThroughId: state.throughId, foldIds: state.logIds, minAgeMs: options.minAgeMs });
  if (!result) return { compacted: false, throughId: state.throughId, folded: 0 };
  return { compacted: true, throughId: result.throughId, folded: result.deleted.length, snapshot };
}
