// The Yjs WebSocket endpoint /yjs/<document>, speaking the y-websocket protocol (sync + awareness).
//
// Order of things for an update from a client: INSERT it (batched per document: one INSERT per
// batch window, or per previous INSERT still in flight, whichever is longer), then apply it to the
// server's copy, then relay it (the batch as one update, to every client, its senders included, as
// the reference y-websocket server does: Yjs ignores what a client already has).
// An update that could not be stored is never applied or relayed; its sender is disconnected and
// resends it on reconnect (the sync handshake). Other instances pick stored updates up by polling
// the log (see README.md).
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import * as Y from "yjs";
import * as awarenessProtocol from "y-protocols/awareness";
import * as authProtocol from "y-protocols/auth";
import * as syncProtocol from "y-protocols/sync";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { WebSocket, WebSocketServer, type RawData } from "ws";
import type { PrismaClient } from "@/server/db/client";
import { getDb } from "@/server/db/client";
import { sessionFromCookieHeader } from "@/server/auth/session";
import { sessionIsLive } from "@/server/auth/sessions";
import { recordAudit } from "@/server/audit/service";
import { allowedOriginsFromEnvironment, resolveDocAccess, type DocAccess } from "./access";
import { docNameFromPath, parseDocName, type CollabDocRef } from "./names";
import { readContent } from "@/contracts/collab-doc";
import { appendUpdates, docFromState, loadStoredState, readUpdatesSince, replaceSnapshot, seedIfEmpty } from "./store";

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const MESSAGE_AUTH = 2;
const MESSAGE_QUERY_AWARENESS = 3;

/** Sent (as an auth "permission denied" message) to a client whose role may only read. */
export const READ_ONLY_REASON = "read-only";
/** Close code when access was revoked: y-websocket clients stop reconnecting on 4400-4499. */
export const CLOSE_ACCESS_REVOKED = 4403;
/** Close code when the role changed: the client reconnects and gets the new mode. */
export const CLOSE_ROLE_CHANGED = 4000;
/** Close code for an update that is not a valid Yjs update (never stored); the client does not reconnect. */
export const CLOSE_INVALID_UPDATE = 4400;
/** Close code for an update larger than `maxUpdateBytes` (decoded); the client does not reconnect. */
export const CLOSE_UPDATE_TOO_LARGE = 4413;
/** Close code for a connection sending more updates (or bytes) a second than allowed; the client does not reconnect. */
export const CLOSE_RATE_LIMITED = 4429;
/** Close code when the document's stored log is full (compaction is under way): the client reconnects later and resends. */
export const CLOSE_LOG_FULL = 4503;
/** Close code for a client that does not read what it is sent (its send buffer is full): it reconnects and syncs again. */
export const CLOSE_SLOW_CONSUMER = 4508;
/** ws closes a message over `maxPayload` (the update limit plus this much for the envelope and presence) with 1009. */
const PAYLOAD_SLACK_BYTES = 64 * 1024;

/** A positive number from the environment, or `fallback`. */
function envNumber(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

/** Limits on what one connection may send and one document may store; defaults read from HEARTH_COLLAB_* (see README). */
export interface CollabLimits {
  /** The largest update accepted (decoded bytes); a larger one closes its socket with 4413. */
  maxUpdateBytes: number;
  /** Updates a second per connection (token bucket holding two seconds' worth); more closes with 4429. */
  maxUpdatesPerSecond: number;
  /** Update bytes a second per connection (token bucket holding two seconds' worth, at least one largest update); more closes with 4429. */
  maxBytesPerSecond: number;
  /** Bytes of update log stored per document; an update that would exceed it is refused (4503) and compaction started. */
  maxLogBytes: number;
  /** Bytes queued to one connection that it has not read; beyond that it is closed (4508) rather than buffered. */
  maxBufferedBytes: number;
}

export function collabLimitsFromEnvironment(): CollabLimits {
  const maxUpdateBytes = envNumber("HEARTH_COLLAB_MAX_UPDATE_BYTES", 1024 * 1024);
  return {
    maxUpdateBytes,
    maxUpdatesPerSecond: envNumber("HEARTH_COLLAB_MAX_UPDATES_PER_SECOND", 100),
    maxBytesPerSecond: envNumber("HEARTH_COLLAB_MAX_BYTES_PER_SECOND", 2 * 1024 * 1024),
    maxLogBytes: envNumber("HEARTH_COLLAB_MAX_LOG_BYTES", 64 * 1024 * 1024),
    maxBufferedBytes: envNumber("HEARTH_COLLAB_MAX_BUFFERED_BYTES", Math.max(16 * 1024 * 1024, 4 * maxUpdateBytes)),
  };
}

export interface CollabServerOptions {
  db?: () => PrismaClient;
  /** Origins allowed to open sockets; defaults to NEXTAUTH_URL's and HEARTH_ALLOWED_ORIGINS. */
  allowedOrigins?: Iterable<string>;
  /** How often loaded documents read updates stored by other instances. */
  pollIntervalMs?: number;
  /** How often each connection's membership is checked again. */
  accessRecheckMs?: number;
  /** Compact once this many updates were stored by this instance since the last compaction. */
  compactAfterUpdates?: number;
  /** Compact documents with new updates at least this often. */
  compactIntervalMs?: number;
  /**
   * Log rows stay this long after they were stored even once in a snapshot (database clock), so
   * other instances, which poll the log, see them before they are deleted.
   */
  foldAfterMs?: number;
  /** How long a document with no connections stays in memory. */
  idleUnloadMs?: number;
  /**
   * Updates arriving within this long of a document's previous store are stored (one INSERT) and
   * relayed (one message per connection) together. A lone edit is stored at once.
   */
  batchWindowMs?: number;
  /** Size, rate and storage limits; unset fields come from the environment (collabLimitsFromEnvironment). */
  limits?: Partial<CollabLimits>;
}

interface User {
  id: string;
  email: string;
  name: string;
}

interface Connection {
  ws: WebSocket;
  user: User;
  /** The sign-in session the socket was opened with: ending it (sign-out, "sign out everywhere") closes the socket. */
  sessionId: string;
  access: DocAccess;
  awarenessIds: Set<number>;
  connectedAt: Date;
  updates: number;
  ignored: number;
  /** Token buckets of the rate limit: updates and bytes left, refilled continuously since `refilledAt`. */
  updateTokens: number;
  byteTokens: number;
  refilledAt: number;
  /** Closed by the server for breaking a limit: nothing more it sent is taken. */
  refused: boolean;
}

interface PendingUpdate {
  update: Uint8Array;
  from: Connection;
}

class SharedDoc {
  readonly doc = new Y.Doc();
  readonly awareness = new awarenessProtocol.Awareness(this.doc);
  readonly conns = new Set<Connection>();
  pending: PendingUpdate[] = [];
  /** Bytes in `pending`; above the high-water mark the senders' sockets are paused until stored. */
  pendingBytes = 0;
  paused = new Set<Connection>();
  /** Bytes of log rows stored for this document (by any instance) and not yet folded, by row id. */
  rowBytes = new Map<bigint, number>();
  logBytes = 0;
  flushing: Promise<void> | null = null;
  /** Presence changes not relayed yet: sent together at the end of the batch window. */
  awarenessChanged = new Set<number>();
  awarenessTimer: NodeJS.Timeout | null = null;
  /** When the last store started, and the timer that starts the next one at the end of the window. */
  lastFlushAt = 0;
  flushTimer: NodeJS.Timeout | null = null;
  /** Where the next poll of the log starts (see readUpdatesSince), and ids applied recently (a poll can return them again). */
  horizon = 0n;
  recentIds = new Map<bigint, number>();
  storedSinceCompaction = 0;
  /** The stored snapshot's version this copy is known to contain, and log rows it has applied since (all foldable into a snapshot of it). */
  snapshotVersion = 0n;
  appliedRows: bigint[] = [];
  lastCompaction = Date.now();
  lastMirror = Date.now();
  /** A compaction left the draft mirror behind the snapshot. */
  mirrorStale = false;
  compacting: Promise<void> | null = null;
  idleSince: number | null = null;

  constructor(
    readonly name: string,
    readonly ref: CollabDocRef,
  ) {
    this.awareness.setLocalState(null); // the server has no presence of its own
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}

/** An update with no structs and an empty delete set (what an up-to-date client answers to sync step 1). */
function isEmptyUpdate(update: Uint8Array): boolean {
  return update.length === 2 && update[0] === 0 && update[1] === 0;
}

/** Whether `update` decodes as a Yjs (v1) update: every struct, its content and the delete set. */
export function isValidUpdate(update: Uint8Array): boolean {
  try {
    Y.decodeUpdate(update);
    return true;
  } catch {
    return false;
  }
}

/** Origin of the server applying a stored batch: relayed to every connection, senders included. */
const STORED_BATCH = Symbol("stored batch");

function syncUpdateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

function awarenessMessage(awareness: awarenessProtocol.Awareness, clients: number[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
  encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, clients));
  return encoding.toUint8Array(encoder);
}

export class CollabServer {
  private readonly wss: WebSocketServer;
  private readonly limits: CollabLimits;
  private readonly docs = new Map<string, SharedDoc>();
  private readonly loading = new Map<string, Promise<SharedDoc>>();
  private readonly allowedOrigins: Set<string>;
  private readonly db: () => PrismaClient;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly options: Required<Omit<CollabServerOptions, "db" | "allowedOrigins" | "limits">>;
  private closed = false;
  private polling = false;

  constructor(options: CollabServerOptions = {}) {
    this.db = options.db ?? getDb;
    this.allowedOrigins = new Set(options.allowedOrigins ?? allowedOriginsFromEnvironment());
    this.limits = { ...collabLimitsFromEnvironment(), ...options.limits };
    // First line: a frame over this is never buffered whole; ws closes the socket with 1009.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxUpdateBytes + PAYLOAD_SLACK_BYTES });
    this.options = {
      pollIntervalMs: options.pollIntervalMs ?? 200,
      accessRecheckMs: options.accessRecheckMs ?? 5_000,
      compactAfterUpdates: options.compactAfterUpdates ?? 5_000,
      compactIntervalMs: options.compactIntervalMs ?? 30_000,
      foldAfterMs: options.foldAfterMs ?? Math.max(10_000, 20 * (options.pollIntervalMs ?? 200)),
      idleUnloadMs: options.idleUnloadMs ?? 30_000,
      batchWindowMs: options.batchWindowMs ?? (Number(process.env.HEARTH_COLLAB_BATCH_MS) || 10),
    };
    this.timers.push(
      setInterval(() => this.pollAll(), this.options.pollIntervalMs),
      setInterval(() => void this.recheckAccess(), this.options.accessRecheckMs),
      setInterval(() => this.maintain(), Math.min(this.options.compactIntervalMs, this.options.idleUnloadMs, 5_000)),
    );
    for (const timer of this.timers) timer.unref();
  }

  /** Handles an HTTP upgrade for `/yjs/<document>`: refuses with an HTTP status before any document data. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on("error", () => socket.destroy());
    this.authorizeUpgrade(req).then(
      (result) => {
        if ("status" in result) return refuse(socket, result.status, result.text);
        if (this.closed) return refuse(socket, 503, "Service Unavailable");
        this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, result.ref, result.user, result.sessionId, result.access));
      },
      (error) => {
        console.error("[collab] upgrade failed:", error);
        refuse(socket, 500, "Internal Server Error");
      },
    );
  }

  private async authorizeUpgrade(
    req: IncomingMessage,
  ): Promise<{ status: number; text: string } | { ref: CollabDocRef; user: User; sessionId: string; access: DocAccess }> {
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    const docName = docNameFromPath(pathname);
    const ref = docName ? parseDocName(docName) : null;
    if (!ref) return { status: 404, text: "Not Found" };
    // Cross-site WebSocket hijacking: browsers send cookies with any page's socket, but always send Origin.
    const origin = req.headers.origin;
    if (!origin || !this.allowedOrigins.has(origin)) return { status: 403, text: "Forbidden" };
    const session = await this.withDb((db) => sessionFromCookieHeader(db, req.headers.cookie));
    if (!session) return { status: 401, text: "Unauthorized" };
    const { userId, sessionId } = session;
    const user = await this.withDb((db) => db.user.findUnique({ where: { id: userId }, select: { id: true, email: true, name: true } }));
    if (!user) return { status: 401, text: "Unauthorized" };
    const access = await this.withDb((db) => resolveDocAccess(db, userId, ref));
    // Unknown document and outsider look the same.
    if (!access) return { status: 404, text: "Not Found" };
    return { ref, user, sessionId, access };
  }

  private accept(ws: WebSocket, ref: CollabDocRef, user: User, sessionId: string, access: DocAccess): void {
    const conn: Connection = {
      ws,
      user,
      sessionId,
      access,
      awarenessIds: new Set(),
      connectedAt: new Date(),
      updates: 0,
      ignored: 0,
      updateTokens: 2 * this.limits.maxUpdatesPerSecond,
      byteTokens: this.byteBucketSize(),
      refilledAt: Date.now(),
      refused: false,
    };
    const early: RawData[] = [];
    let shared: SharedDoc | null = null;
    ws.binaryType = "nodebuffer";
    ws.on("message", (data: RawData) => {
      if (shared) this.onMessage(shared, conn, data);
      else early.push(data);
    });
    ws.on("close", () => {
      if (shared) this.disconnect(shared, conn);
    });
    ws.on("error", () => ws.terminate());
    this.getDoc(ref).then(
      (doc) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        shared = doc;
        doc.conns.add(conn);
        doc.idleSince = null;
        this.greet(doc, conn);
        for (const data of early.splice(0)) this.onMessage(doc, conn, data);
      },
      (error) => {
        // Never serve a document that failed to load: the client retries and nothing is overwritten.
        console.error(`[collab] could not load ${ref.name}:`, error);
        ws.close(1011, "document unavailable");
      },
    );
  }

  private greet(doc: SharedDoc, conn: Connection): void {
    if (!conn.access.canWrite) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_AUTH);
      authProtocol.writePermissionDenied(encoder, READ_ONLY_REASON);
      this.send(conn, encoding.toUint8Array(encoder));
    }
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(encoder, doc.doc);
    this.send(conn, encoding.toUint8Array(encoder));
    const states = doc.awareness.getStates();
    if (states.size > 0) this.send(conn, awarenessMessage(doc.awareness, [...states.keys()]));
  }

  private send(conn: Connection, message: Uint8Array): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    // A client that does not read would have every relayed update buffered here: close it instead
    // (it reconnects and gets the document through the sync handshake).
    if (conn.ws.bufferedAmount + message.byteLength > this.limits.maxBufferedBytes) {
      this.refuse(conn, CLOSE_SLOW_CONSUMER, "not reading");
      return;
    }
    conn.ws.send(message, (error) => {
      if (error) conn.ws.terminate();
    });
  }

  private byteBucketSize(): number {
    return Math.max(2 * this.limits.maxBytesPerSecond, this.limits.maxUpdateBytes);
  }

  /** Closes a connection that broke a limit; nothing more it sends is taken. */
  private refuse(conn: Connection, code: number, reason: string): void {
    if (conn.refused) return;
    conn.refused = true;
    console.warn(`[collab] closing a connection of ${conn.user.id}: ${reason} (${code})`);
    conn.ws.close(code, reason);
    // A client that does not complete the closing handshake is cut off.
    setTimeout(() => conn.ws.terminate(), 2_000).unref();
  }

  /** Takes one update of `bytes` from the connection's rate budget; false when it is spent. */
  private withinRate(conn: Connection, bytes: number): boolean {
    const now = Date.now();
    const elapsed = (now - conn.refilledAt) / 1000;
    conn.refilledAt = now;
    conn.updateTokens = Math.min(2 * this.limits.maxUpdatesPerSecond, conn.updateTokens + elapsed * this.limits.maxUpdatesPerSecond);
    conn.byteTokens = Math.min(this.byteBucketSize(), conn.byteTokens + elapsed * this.limits.maxBytesPerSecond);
    conn.updateTokens -= 1;
    conn.byteTokens -= bytes;
    return conn.updateTokens >= 0 && conn.byteTokens >= 0;
  }

  private onMessage(doc: SharedDoc, conn: Connection, data: RawData): void {
    if (conn.refused) return;
    try {
      const bytes = data instanceof Buffer ? new Uint8Array(data) : new Uint8Array(Buffer.concat(data as Buffer[]));
      const decoder = decoding.createDecoder(bytes);
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) {
        const syncType = decoding.readVarUint(decoder);
        if (syncType === syncProtocol.messageYjsSyncStep1) {
          const encoder = encoding.createEncoder();
          encoding.writeVarUint(encoder, MESSAGE_SYNC);
          syncProtocol.writeSyncStep2(encoder, doc.doc, decoding.readVarUint8Array(decoder));
          this.send(conn, encoding.toUint8Array(encoder));
        } else if (syncType === syncProtocol.messageYjsSyncStep2 || syncType === syncProtocol.messageYjsUpdate) {
          const update = decoding.readVarUint8Array(decoder);
          if (!conn.access.canWrite) {
            conn.ignored++;
            return;
          }
          if (isEmptyUpdate(update)) return; // a sync step 2 with nothing new
          if (update.byteLength > this.limits.maxUpdateBytes) return this.refuse(conn, CLOSE_UPDATE_TOO_LARGE, "update too large");
          if (!this.withinRate(conn, update.byteLength)) return this.refuse(conn, CLOSE_RATE_LIMITED, "too many updates");
          // Checked before it is stored: a stored update that does not decode would break every later
          // load of the document (readLiveDocument, publishing, new sockets' sync).
          if (!isValidUpdate(update)) {
                  return this.refuse(conn, CLOSE_INVALID_UPDATE, "invalid update");
          }
          doc.pending.push({ update, from: conn });
          doc.pendingBytes += update.byteLength;
          // Backpressure: while a lot waits to be stored, stop reading from the senders (TCP pushes back on them).
          if (doc.pendingBytes > this.pendingHighWater() && !doc.paused.has(conn)) {
            doc.paused.add(conn);
            conn.ws.pause();
          }
          this.flush(doc);
        }
      } else if (type === MESSAGE_AWARENESS) {
        const update = decoding.readVarUint8Array(decoder);
        this.trackAwareness(conn, update);
        awarenessProtocol.applyAwarenessUpdate(doc.awareness, update, conn);
      } else if (type === MESSAGE_QUERY_AWARENESS) {
        this.send(conn, awarenessMessage(doc.awareness, [...doc.awareness.getStates().keys()]));
      }
    } catch (error) {
      console.error("[collab] bad message:", error);
      conn.ws.close(1007, "bad message");
    }
  }

  private trackAwareness(conn: Connection, update: Uint8Array): void {
    const decoder = decoding.createDecoder(update);
    const count = decoding.readVarUint(decoder);
    for (let i = 0; i < count; i++) {
      const clientId = decoding.readVarUint(decoder);
      decoding.readVarUint(decoder); // clock
      const state = JSON.parse(decoding.readVarString(decoder));
      if (state === null) conn.awarenessIds.delete(clientId);
      else conn.awarenessIds.add(clientId);
    }
  }

  /**
   * Stores pending updates (one INSERT per batch), then applies them in one transaction, whose update
   * (only what was new to the server) the document's update handler relays. A batch starts when the
   * previous one is stored and at least `batchWindowMs` after the previous one started, so 500 updates
   * a second become a few dozen INSERTs and a few dozen messages per connection.
   */
  private flush(doc: SharedDoc, now = false): void {
    if (doc.flushing || doc.pending.length === 0) return;
    if (doc.flushTimer) {
      if (!now) return;
      clearTimeout(doc.flushTimer);
      doc.flushTimer = null;
    }
    const wait = doc.lastFlushAt + this.options.batchWindowMs - Date.now();
    if (wait > 0 && !now && !this.closed) {
      doc.flushTimer = setTimeout(() => {
        doc.flushTimer = null;
        this.flush(doc);
      }, wait);
      return;
    }
    doc.lastFlushAt = Date.now();
    // The document's log has room for so much: what does not fit is refused (its senders reconnect
    // later and resend through the sync handshake) and compaction folds the log meanwhile.
    const batch: PendingUpdate[] = [];
    let room = this.limits.maxLogBytes - doc.logBytes;
    for (const p of doc.pending) {
      if (p.update.byteLength <= room && !p.from.refused) {
        batch.push(p);
        room -= p.update.byteLength;
      } else if (!p.from.refused) {
        this.refuse(p.from, CLOSE_LOG_FULL, "document log full");
      }
    }
    if (batch.length < doc.pending.length) void this.compact(doc);
    doc.pending = [];
    doc.pendingBytes = 0;
    if (batch.length === 0) {
      this.resumeReading(doc);
      return;
    }
    doc.flushing = (async () => {
      let ids: bigint[];
      try {
        ids = await this.withDb((db) => appendUpdates(db, doc.name, batch.map((p) => ({ update: p.update, userId: p.from.user.id }))));
      } catch (error) {
        console.error(`[collab] could not store updates of ${doc.name}:`, error);
        for (const sender of new Set(batch.map((p) => p.from))) sender.ws.close(1011, "update not stored");
        return;
      }
      const at = Date.now();
      doc.doc.transact(() => {
        batch.forEach((p, i) => {
          this.noteApplied(doc, ids[i], at, p.update.byteLength);
          p.from.updates++;
          try {
            Y.applyUpdate(doc.doc, p.update, STORED_BATCH);
          } catch (error) {
            // Not expected (updates are validated before they are stored), but never an unhandled rejection.
            console.error(`[collab] could not apply a stored update of ${doc.name}:`, error);
            p.from.ws.close(CLOSE_INVALID_UPDATE, "invalid update");
          }
        });
      }, STORED_BATCH);
      doc.storedSinceCompaction += batch.length;
    })().catch((error) => console.error(`[collab] storing updates of ${doc.name} failed:`, error)).finally(() => {
      doc.flushing = null;
      if (doc.storedSinceCompaction >= this.options.compactAfterUpdates || doc.logBytes > this.limits.maxLogBytes / 2) void this.compact(doc);
      if (doc.pendingBytes <= this.pendingHighWater()) this.resumeReading(doc);
      this.flush(doc, this.closed);
    });
  }

  /** Above this many bytes waiting to be stored, senders are paused. */
  private pendingHighWater(): number {
    return 4 * this.limits.maxUpdateBytes;
  }

  private resumeReading(doc: SharedDoc): void {
    for (const conn of doc.paused) conn.ws.resume();
    doc.paused.clear();
  }

  private noteApplied(doc: SharedDoc, id: bigint, now: number, bytes: number): void {
    doc.recentIds.set(id, now);
    doc.appliedRows.push(id);
    if (!doc.rowBytes.has(id)) {
      doc.rowBytes.set(id, bytes);
      doc.logBytes += bytes;
    }
  }

  private forgetRows(doc: SharedDoc, ids: Iterable<bigint>): void {
    for (const id of ids) {
      doc.logBytes -= doc.rowBytes.get(id) ?? 0;
      doc.rowBytes.delete(id);
    }
  }

  private getDoc(ref: CollabDocRef): Promise<SharedDoc> {
    const loaded = this.docs.get(ref.name);
    if (loaded) return Promise.resolve(loaded);
    let loading = this.loading.get(ref.name);
    if (!loading) {
      loading = this.loadDoc(ref).finally(() => this.loading.delete(ref.name));
      this.loading.set(ref.name, loading);
    }
    return loading;
  }

  private async loadDoc(ref: CollabDocRef): Promise<SharedDoc> {
    await this.withDb((db) => seedIfEmpty(db, ref.name));
    const state = await this.withDb((db) => loadStoredState(db, ref.name));
    const shared = new SharedDoc(ref.name, ref);
    const stored = docFromState(state);
    Y.applyUpdate(shared.doc, Y.encodeStateAsUpdate(stored), "load");
    stored.destroy();
    shared.horizon = state.horizon;
    shared.snapshotVersion = state.throughId;
    shared.appliedRows = [...state.logIds];
    // The log rows are the last logIds.length updates (after the snapshot, if any).
    const logStart = state.updates.length - state.logIds.length;
    state.logIds.forEach((id, i) => {
      shared.rowBytes.set(id, state.updates[logStart + i].byteLength);
      shared.logBytes += state.updates[logStart + i].byteLength;
    });
    // Stored batches, updates polled from the log: to every connection (a sender's own part is a no-op to it).
    shared.doc.on("update", (update: Uint8Array) => {
      const message = syncUpdateMessage(update);
      for (const conn of shared.conns) this.send(conn, message);
    });
    // Presence (cursors, names, and every client's keep-alive every 15 s): the changes of a batch window
    // in one message with each client's latest state, rather than a message per change per connection
    // (a cursor moves with every keystroke: 50 people typing would be 25,000 messages a second).
    shared.awareness.on("update", ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }) => {
      for (const id of [...added, ...updated, ...removed]) shared.awarenessChanged.add(id);
      shared.awarenessTimer ??= setTimeout(() => {
        shared.awarenessTimer = null;
        const changed = [...shared.awarenessChanged];
        shared.awarenessChanged.clear();
        if (changed.length === 0 || shared.conns.size === 0) return;
        const message = awarenessMessage(shared.awareness, changed);
        for (const conn of shared.conns) this.send(conn, message);
      }, this.options.batchWindowMs);
    });
    this.docs.set(ref.name, shared);
    return shared;
  }

  /** Applies updates other instances stored, for every document with clients, in one query. */
  private pollAll(): void {
    if (this.polling) return;
    const docs = [...this.docs.values()].filter((doc) => doc.conns.size > 0);
    if (docs.length === 0) return;
    this.polling = true;
    const horizon = docs.reduce((min, doc) => (doc.horizon < min ? doc.horizon : min), docs[0].horizon);
    this.withDb((db) => readUpdatesSince(db, docs.map((doc) => doc.name), horizon))
      .then((result) => {
        const now = Date.now();
        for (const doc of docs) if (result.horizon > doc.horizon) doc.horizon = result.horizon;
        for (const row of result.updates) {
          const doc = this.docs.get(row.docName);
          if (!doc || doc.recentIds.has(row.id)) continue;
          this.noteApplied(doc, row.id, now, row.update.byteLength);
          Y.applyUpdate(doc.doc, row.update, "remote");
        }
        for (const doc of docs) for (const [id, at] of doc.recentIds) if (now - at > 30_000) doc.recentIds.delete(id);
      })
      .catch((error) => console.error("[collab] polling failed:", error))
      .finally(() => (this.polling = false));
  }

  /**
   * The hub's database work. Concurrent statements are safe on both databases: the embedded one keeps
   * each connection's extended-protocol cycle together (server/db/socket-queue.ts).
   */
  private withDb<T>(work: (db: PrismaClient) => Promise<T>): Promise<T> {
    return work(this.db());
  }

  /** Closes connections whose session ended or membership is gone; reconnects those whose role changed. */
  private async recheckAccess(): Promise<void> {
    for (const doc of this.docs.values()) {
      for (const conn of [...doc.conns]) {
        if (this.closed) return;
        try {
          if (!(await this.withDb((db) => sessionIsLive(db, conn.sessionId, conn.user.id)))) {
            conn.ws.close(CLOSE_ACCESS_REVOKED, "session ended");
            continue;
          }
          const access = await this.withDb((db) => resolveDocAccess(db, conn.user.id, doc.ref));
          if (!access) conn.ws.close(CLOSE_ACCESS_REVOKED, "access revoked");
          else if (access.canWrite !== conn.access.canWrite) conn.ws.close(CLOSE_ROLE_CHANGED, "role changed");
        } catch (error) {
          console.error("[collab] access re-check failed:", error);
        }
      }
    }
  }

  private disconnect(doc: SharedDoc, conn: Connection): void {
    if (!doc.conns.delete(conn)) return;
    doc.paused.delete(conn);
    awarenessProtocol.removeAwarenessStates(doc.awareness, [...conn.awarenessIds], null);
    if (doc.conns.size === 0) doc.idleSince = Date.now();
    void this.recordSession(doc, conn);
  }

  private async recordSession(doc: SharedDoc, conn: Connection): Promise<void> {
    try {
      await this.withDb((db) => db.$transaction((tx) =>
        recordAudit(
          tx,
          { type: "user", userId: conn.user.id, email: conn.user.email, name: conn.user.name },
          {
            orgId: conn.access.orgId,
            action: "collab.session",
            resourceType: doc.ref.kind,
            resourceId: doc.ref.id,
            after: {
              docName: doc.name,
              role: conn.access.role,
              connectedAt: conn.connectedAt.toISOString(),
              disconnectedAt: new Date().toISOString(),
              updates: conn.updates,
              ignoredUpdates: conn.ignored,
            },
          },
        ),
      ));
    } catch (error) {
      console.error("[collab] could not record the session:", error);
    }
  }

  /**
   * Folds the log into a snapshot of this server's copy: it was loaded from the database, and holds
   * the snapshot it was loaded with (or wrote) plus every row it applied since, so encoding it is
   * enough (no rebuild from the log; that took ~100 ms of the event loop on a large document). Rows
   * are deleted only once older than `foldAfterMs`, so other instances polling the log have seen them.
   * If another instance replaced the snapshot meanwhile, this copy may lack rows that instance folded:
   * read the stored state, apply it here (which also relays anything missed to the clients), and try
   * once more on top of the snapshot just read.
   */
  private compact(doc: SharedDoc, force = false): Promise<void> {
    doc.compacting ??= (async () => {
      const stored = doc.storedSinceCompaction;
      const mirror = force || this.closed || doc.conns.size === 0 || Date.now() - doc.lastMirror >= this.options.compactIntervalMs;
      try {
        if (!(await this.compactFromMemory(doc, mirror))) {
          const state = await this.withDb((db) => loadStoredState(db, doc.name));
          const fromDb = docFromState(state);
          Y.applyUpdate(doc.doc, Y.encodeStateAsUpdate(fromDb), "remote");
          fromDb.destroy();
          doc.snapshotVersion = state.throughId;
          doc.appliedRows = [...new Set([...doc.appliedRows, ...state.logIds])];
          await this.compactFromMemory(doc, mirror);
        }
        doc.storedSinceCompaction = Math.max(0, doc.storedSinceCompaction - stored);
        doc.lastCompaction = Date.now();
      } catch (error) {
        console.error(`[collab] compaction of ${doc.name} failed:`, error);
      }
    })().finally(() => (doc.compacting = null));
    return doc.compacting;
  }

  /**
   * One optimistic attempt: false if the stored snapshot is no longer the one this copy holds. The
   * draft mirror (a full copy of the content) is written at most every `compactIntervalMs` while
   * people edit, and always when the document is unloaded or the server stops.
   */
  private async compactFromMemory(doc: SharedDoc, mirror: boolean): Promise<boolean> {
    // Encoded in the same tick as the ids are taken: the snapshot holds every row in foldIds.
    const foldIds = doc.appliedRows.slice();
    const replaced = await this.withDb((db) =>
      replaceSnapshot(db, doc.name, {
        snapshot: Y.encodeStateAsUpdate(doc.doc),
        content: mirror ? readContent(doc.ref.kind, doc.doc) : undefined,
        expectedThroughId: doc.snapshotVersion,
        foldIds,
        minAgeMs: this.options.foldAfterMs,
      }),
    );
    if (!replaced) return false;
    if (mirror) doc.lastMirror = Date.now();
    doc.mirrorStale = !mirror;
    doc.snapshotVersion = replaced.throughId;
    const deleted = new Set(replaced.deleted);
    doc.appliedRows = doc.appliedRows.filter((id) => !deleted.has(id));
    this.forgetRows(doc, deleted);
    return true;
  }

  /** Periodic compaction, and unloading of documents nobody has open. */
  private maintain(): void {
    const now = Date.now();
    for (const doc of this.docs.values()) {
      if ((doc.storedSinceCompaction > 0 || doc.mirrorStale) && now - doc.lastCompaction >= this.options.compactIntervalMs) void this.compact(doc);
      if (doc.conns.size === 0 && doc.idleSince !== null && now - doc.idleSince >= this.options.idleUnloadMs && !doc.flushing && doc.pending.length === 0) {
        this.docs.delete(doc.name);
        if (doc.awarenessTimer) clearTimeout(doc.awarenessTimer);
        void this.compact(doc).finally(() => {
          doc.awareness.destroy();
          doc.doc.destroy();
        });
      }
    }
  }

  /** Stores what is pending for a loaded document, then compacts it (false if it is not loaded here). */
  async compactNow(docName: string): Promise<boolean> {
    const doc = this.docs.get(docName);
    if (!doc) return false;
    this.flush(doc, true);
    while (doc.flushing) await doc.flushing;
    doc.storedSinceCompaction = Math.max(1, doc.storedSinceCompaction);
    await this.compact(doc, true);
    return true;
  }

  /** Number of open connections (all documents). */
  connectionCount(): number {
    let count = 0;
    for (const doc of this.docs.values()) count += doc.conns.size;
    return count;
  }

  /** Stops accepting, stores what is pending, closes connections, compacts. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    const docs = [...this.docs.values()];
    // Store what is waiting for its batch window now (flush keeps going while closed until none is left).
    for (const doc of docs) this.flush(doc, true);
    while (docs.some((doc) => doc.flushing)) await Promise.allSettled(docs.map((doc) => doc.flushing));
    for (const doc of docs) for (const conn of doc.conns) conn.ws.close(1001, "server shutting down");
    const sessions = docs.flatMap((doc) => [...doc.conns].map((conn) => this.recordSession(doc, conn)));
    for (const doc of docs) {
      doc.conns.clear();
      if (doc.awarenessTimer) clearTimeout(doc.awarenessTimer);
    }
    await Promise.allSettled([...sessions, ...docs.filter((d) => d.storedSinceCompaction > 0 || d.mirrorStale).map((d) => this.compact(d))]);
    this.docs.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
