// Live views across instances. A change that people watch live (an audit entry, a run's metric points)
// writes a LiveEvent row in its own transaction; every instance with someone watching polls the table and
// hands each new row to its local subscribers, so a change made through one instance reaches the
// subscribers of every other, through PostgreSQL alone (the embedded database included). Ids order the
// events and let a reconnecting client ask for what it missed (tRPC's tracked ids: Last-Event-ID).
//
// Ids are taken at INSERT but become visible at COMMIT, not in id order; so, as the co-editing log does
// (server/collab/store.ts), a poll reads the rows of every transaction that had not ended at the previous
// poll (by `xid`, against the snapshot's xmin) and skips those it already delivered. A bus polls only
// while it has subscribers, and starts from "now": history is for catch-up, not replay. Every instance
// deletes events past the retention (startLiveEventSweeper, from server/main.ts).
import { EventEmitter } from "node:events";
import type { PrismaClient } from "@/server/db/generated/client";
import { processSingleton } from "@/server/lib/process-singleton";
import { runPeriodically } from "@/server/lib/periodic";

export interface LiveMessage<T = unknown> {
  /** The event's id (a decimal string), increasing in insertion order. */
  id: string;
  payload: T;
}

/** How long events are kept for reconnecting clients. */
export const LIVE_RETENTION_MS = 15 * 60_000;
/** The most events a reconnecting client is sent at once (older ones it re-reads from the records). */
export const MAX_CATCH_UP = 1_000;
const DEFAULT_POLL_MS = Number(process.env.HEARTH_LIVE_POLL_MS ?? 250);
const PRUNE_EVERY_MS = 60_000;

type Db = Pick<PrismaClient, "$queryRaw" | "$executeRaw">;

/** Announces `payload` on `channel` to the subscribers of every instance: call it inside the change's transaction. */
export async function publishLive(tx: Pick<PrismaClient, "$executeRaw">, channel: string, payload: unknown): Promise<void> {
  await tx.$executeRaw`INSERT INTO "LiveEvent" ("channel", "payload") VALUES (${channel}, ${JSON.stringify(payload)}::jsonb)`;
}

/** The channels' events after `afterId`, oldest first: what a reconnecting client missed (within the retention). */
export async function liveEventsAfter<T>(db: Db, channels: string | string[], afterId: string): Promise<LiveMessage<T>[]> {
  if (!/^\d{1,19}$/.test(afterId)) return [];
  const rows = await db.$queryRaw<{ id: bigint; payload: T }[]>`
    SELECT "id", "payload" FROM "LiveEvent" WHERE "channel" = ANY(${[channels].flat()}::text[]) AND "id" > ${afterId}::bigint ORDER BY "id" LIMIT ${MAX_CATCH_UP}`;
  return rows.map((r) => ({ id: String(r.id), payload: r.payload }));
}

export class LiveBus {
  private readonly emitter = new EventEmitter().setMaxListeners(10_000);
  private listeners = 0;
  private horizon: bigint | null = null;
  /** Delivered ids of rows whose transaction may still be re-read (xid at or above the horizon). */
  private readonly delivered = new Map<bigint, bigint>();
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private started: { promise: Promise<void>; resolve: () => void } | null = null;

  constructor(
    private readonly db: Db,
    private readonly pollMs = DEFAULT_POLL_MS,
  ) {}

  /** Calls `onEvent` for every event on `channel` from now on, until the returned function is called. */
  subscribe<T>(channel: string, onEvent: (message: LiveMessage<T>) => void): () => void {
    const listener = (message: LiveMessage<T>) => onEvent(message);
    this.emitter.on(channel, listener);
    this.listeners++;
    this.ensureLoop();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.emitter.off(channel, listener);
      this.listeners--;
      this.wake?.();
    };
  }

  /**
   * Resolves once the bus has read where "now" is: events committed after that reach every subscriber
   * (one published between a first subscribe and this moment may count as history).
   */
  ready(): Promise<void> {
    return this.started?.promise ?? Promise.resolve();
  }

  /**
   * The events of a channel (or several, merged in id order) as they come, for a subscription: those
   * after `lastEventId` first (a client reconnecting), then the live ones, each once, until `signal` aborts.
   */
  async *stream<T>(channels: string | string[], signal: AbortSignal | undefined, lastEventId?: string | null): AsyncGenerator<LiveMessage<T>> {
    const queue: LiveMessage<T>[] = [];
    let notify: (() => void) | null = null;
    // Subscribed before the catch-up is read, so nothing falls between the two.
    const unsubscribes = [channels].flat().map((channel) =>
      this.subscribe<T>(channel, (message) => {
        queue.push(message);
        notify?.();
      }),
    );
    const unsubscribe = () => unsubscribes.forEach((u) => u());
    const onAbort = () => notify?.();
    signal?.addEventListener("abort", onAbort);
    const sent = new Set<string>();
    try {
      if (lastEventId) {
        for (const message of await liveEventsAfter<T>(this.db, channels, lastEventId)) {
          sent.add(message.id);
          yield message;
        }
      }
      while (!signal?.aborted) {
        const message = queue.shift();
        if (!message) {
          await new Promise<void>((resolve) => (notify = resolve));
          notify = null;
          continue;
        }
        if (sent.has(message.id)) continue;
        sent.add(message.id);
        yield message;
      }
    } finally {
      signal?.removeEventListener("abort", onAbort);
      unsubscribe();
    }
  }

  private ensureLoop(): void {
    if (this.loop) return;
    let resolve!: () => void;
    this.started = { promise: new Promise<void>((r) => (resolve = r)), resolve };
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    try {
      while (this.listeners > 0) {
        try {
          await this.poll();
        } catch (error) {
          console.error("[hearth] live events: a poll failed:", error);
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, this.pollMs).unref?.();
        });
        this.wake = null;
      }
    } finally {
      // Nobody watches: the next subscriber starts from its own "now".
      this.horizon = null;
      this.delivered.clear();
      this.started?.resolve();
      this.started = null;
      this.loop = null;
      if (this.listeners > 0) this.ensureLoop();
    }
  }

  private async poll(): Promise<void> {
    if (this.horizon === null) {
      const [row] = await this.db.$queryRaw<{ xmin: string }[]>`SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`;
      this.horizon = BigInt(row.xmin);
      // Rows of transactions still open at this moment are read by the next poll; rows already visible
      // are history, skipped: remember them as delivered.
      const visible = await this.db.$queryRaw<{ id: bigint; xid: string }[]>`SELECT "id", "xid"::text AS xid FROM "LiveEvent" WHERE "xid" >= ${row.xmin}::xid8`;
      for (const v of visible) this.delivered.set(BigInt(v.id), BigInt(v.xid));
      this.started?.resolve();
      return;
    }
    const rows = await this.db.$queryRaw<{ horizon: string; id: bigint | null; channel: string | null; payload: unknown; xid: string | null }[]>`
      WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
      SELECT h.xmin::text AS horizon, e."id", e."channel", e."payload", e."xid"::text AS xid
      FROM h LEFT JOIN "LiveEvent" e ON e."xid" >= ${this.horizon.toString()}::xid8
      ORDER BY e."id"`;
    for (const row of rows) {
      if (row.id === null) continue;
      const id = BigInt(row.id);
      if (this.delivered.has(id)) continue;
      this.delivered.set(id, BigInt(row.xid!));
      this.emitter.emit(row.channel!, { id: id.toString(), payload: row.payload } satisfies LiveMessage);
    }
    this.horizon = BigInt(rows[0].horizon);
    for (const [id, xid] of this.delivered) if (xid < this.horizon) this.delivered.delete(id);
  }
}

/** Deletes events past the retention (whether or not anyone watches): every instance runs it, harmlessly at once. */
export async function sweepLiveEvents(db: Pick<PrismaClient, "$executeRaw">): Promise<number> {
  return db.$executeRaw`DELETE FROM "LiveEvent" WHERE "createdAt" < ${new Date(Date.now() - LIVE_RETENTION_MS)}`;
}

export function startLiveEventSweeper(db: () => Pick<PrismaClient, "$executeRaw">, everyMs = PRUNE_EVERY_MS): { stop(): Promise<void> } {
  return runPeriodically("live events sweep", everyMs, () => sweepLiveEvents(db()));
}

/** This process's bus for a database client (one per client: a test process may hold several). */
export function liveBus(db: Db): LiveBus {
  const buses = processSingleton("hearth.liveBuses", () => new WeakMap<object, LiveBus>());
  let bus = buses.get(db);
  if (!bus) {
    bus = new LiveBus(db);
    buses.set(db, bus);
  }
  return bus;
}
