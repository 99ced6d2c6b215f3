// The drift watch loop, started by server/main.ts on every instance: each tick it fires the schedules
// that are due, evaluates scheduled runs that ended (alerts), and sends webhook deliveries that are due.
// Instances sharing a database cooperate through conditional updates: a due schedule is fired by the
// instance that takes its lease, and the slot's firing record is unique, so a slot fires once. The clock
// is injected (tests move it); instances of one deployment should keep their clocks in sync (NTP).
import { randomUUID } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { GuardOptions } from "@/server/endpoints/ssrf";
import { fireSchedule } from "./fire";
import { evaluateFinishedRuns } from "./alerts";
import { deliverDueWebhooks, type DeliveryPolicy } from "./webhooks";
import { nextSlot } from "./slots";

export interface DriftWatchOptions {
  db: PrismaClient;
  now?: () => Date;
  /** How often to tick (default 15 s); 0: never by itself (tests call tick()). */
  pollMs?: number;
  /** A schedule being fired is this instance's until then (default 2 minutes). */
  leaseMs?: number;
  /** The links in alerts start with it (default NEXTAUTH_URL, else http://localhost:3000). */
  publicUrl?: string;
  delivery?: DeliveryPolicy;
  guard?: GuardOptions;
}

export interface DriftWatch {
  /** One pass: fire what is due, evaluate what ended, deliver what is due. */
  tick(): Promise<{ fired: number; alerted: number; delivered: number }>;
  close(): Promise<void>;
}

/** Fires the due schedules whose lease this instance takes; returns how many slots it fired. */
export async function fireDueSchedules(db: PrismaClient, options: { now: Date; holder: string; leaseMs: number; limit?: number }): Promise<number> {
  const { now, holder, leaseMs } = options;
  const due = await db.evalSchedule.findMany({
    where: { enabled: true, nextRunAt: { lte: now }, OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
    orderBy: { nextRunAt: "asc" },
    take: options.limit ?? 20,
    select: { id: true, nextRunAt: true, leaseExpiresAt: true, interval: true, offsetMinutes: true },
  });
  let fired = 0;
  for (const s of due) {
    // Conditional on what was read: of several instances racing for this schedule, one takes the lease.
    const claimed = await db.evalSchedule.updateMany({
      where: { id: s.id, enabled: true, nextRunAt: s.nextRunAt, leaseExpiresAt: s.leaseExpiresAt },
      data: { leaseHolder: holder, leaseExpiresAt: new Date(now.getTime() + leaseMs) },
    });
    if (claimed.count !== 1) continue;
    try {
      const result = await fireSchedule(db, s.id, s.nextRunAt);
      if (result.fired) fired++;
    } catch (error) {
      console.error(`[hearth] schedule ${s.id}: firing the slot ${s.nextRunAt.toISOString()} failed:`, error);
    } finally {
      // Missed slots (the server was down) are not made up one by one: the next slot is the next after now.
      await db.evalSchedule
        .updateMany({ where: { id: s.id, leaseHolder: holder }, data: { nextRunAt: nextSlot(s.interval, s.offsetMinutes, now), leaseHolder: null, leaseExpiresAt: null } })
        .catch((error) => console.error(`[hearth] schedule ${s.id}: could not advance:`, error));
    }
  }
  return fired;
}

export function startDriftWatch(options: DriftWatchOptions): DriftWatch {
  const { db } = options;
  const now = options.now ?? (() => new Date());
  const holder = randomUUID();
  const leaseMs = options.leaseMs ?? 120_000;
  const pollMs = options.pollMs ?? 15_000;
  const publicUrl = (options.publicUrl ?? process.env.NEXTAUTH_URL ?? "http://localhost:3000").replace(/\/+$/, "");
  let closed = false;
  let running: Promise<unknown> = Promise.resolve();

  // Each phase on its own: a failure to fire (say) does not hold back the alerts and deliveries.
  const phase = async (what: string, run: () => Promise<number>) => {
    try {
      return await run();
    } catch (error) {
      console.error(`[hearth] drift watch: ${what} failed:`, error);
      return 0;
    }
  };
  async function tick() {
    const fired = await phase("firing due schedules", () => fireDueSchedules(db, { now: now(), holder, leaseMs }));
    const alerted = await phase("evaluating scheduled runs", () => evaluateFinishedRuns(db, { now: now(), publicUrl }));
    const delivered = await phase("delivering webhooks", () => deliverDueWebhooks(db, { now: now(), policy: options.delivery, guard: options.guard }));
    return { fired, alerted, delivered };
  }

  // One tick at a time per instance.
  const timer = pollMs > 0
    ? setInterval(() => {
        running = running.then(() => (closed ? undefined : tick().catch((error) => console.error("[hearth] drift watch tick failed:", error))));
      }, pollMs)
    : null;

  return {
    tick: () => {
      const next = running.then(tick);
      running = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      await running;
    },
  };
}
