// The lease a server-side eval run is held by while this instance works on it (endpoint runs and server
// runs alike): what was claimed, the renewal that notices a cancel or a takeover, and the failure record.
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import { transitionRun } from "@/server/runs/service";

const SYSTEM = { type: "system" } as const;

export interface ClaimedRun {
  id: string;
  target: "ENDPOINT" | "SERVER";
  modelVersionId: string | null;
  projectId: string;
  orgId: string;
  endpointId: string | null;
  suiteVersionId: string | null;
  config: Prisma.JsonValue;
  leaseExpiresAt: Date;
}

/**
 * Extends the run's lease if it is still this worker's: the lease end it last set is the fence, so a
 * worker whose lease another instance took over (after a stall) learns it here. Null when the run is
 * no longer this worker's to run; `why` says whether it was cancelled or taken over.
 */
async function renewLease(db: PrismaClient, runId: string, held: Date, leaseMs: number): Promise<{ lease: Date } | { why: "cancelled" | "lost" }> {
  const [row] = await db.$queryRaw<{ leaseExpiresAt: Date }[]>`
    UPDATE "Run" SET "leaseExpiresAt" = (now() AT TIME ZONE 'UTC') + make_interval(secs => ${leaseMs / 1000}::double precision)
    WHERE id = ${runId} AND status = 'RUNNING' AND NOT "cancelRequested" AND "leaseExpiresAt" = (${held}::timestamptz AT TIME ZONE 'UTC')
    RETURNING "leaseExpiresAt"`;
  if (row) return { lease: row.leaseExpiresAt };
  const now = await db.run.findUnique({ where: { id: runId }, select: { status: true, cancelRequested: true } });
  return { why: now?.status === "RUNNING" && !now.cancelRequested ? "lost" : "cancelled" };
}

export async function failRun(db: PrismaClient, orgId: string, runId: string, error: string): Promise<void> {
  await transitionRun(db, SYSTEM, orgId, runId, "FAILED", { error }).catch((e: unknown) => console.error(`[hearth] run ${runId}: could not record failure:`, e));
}

/**
 * Keeps a claimed run's lease while it is worked on: renewed every third of its length; a run that
 * stopped being RUNNING (cancelled by a person), asks to cancel, or was taken over by another instance
 * aborts `controller`, and `cancelled()` then says whether a person cancelled it.
 */
export function holdLease(db: PrismaClient, run: Pick<ClaimedRun, "id" | "target" | "leaseExpiresAt">, controller: AbortController, leaseMs: number): { cancelled(): boolean; release(): void } {
  let cancelled = false;
  let lease = run.leaseExpiresAt;
  // One renewal at a time: two in flight would hold the same fence, and the second would see the first's
  // new lease as a takeover.
  let renewing = false;
  const what = `${run.target.toLowerCase()} run ${run.id}`;
  const renew = setInterval(() => {
    if (renewing || controller.signal.aborted) return;
    renewing = true;
    void (async () => {
      const renewed = await renewLease(db, run.id, lease, leaseMs);
      if ("lease" in renewed) lease = renewed.lease;
      else {
        cancelled = renewed.why === "cancelled";
        if (renewed.why === "lost") console.warn(`[hearth] ${what}: another server took over its lease; this one stops working on it.`);
        controller.abort(new Error(renewed.why));
      }
    })()
      .catch((error) => console.error(`[hearth] ${what}: lease renewal failed:`, error))
      .finally(() => (renewing = false));
  }, Math.max(200, Math.floor(leaseMs / 3)));
  return { cancelled: () => cancelled, release: () => clearInterval(renew) };
}

/**
 * Ends a claimed run once its work stopped: CANCELLED when a person cancelled it; nothing when the
 * server is stopping or another instance took it over (the lease goes back or is theirs); else SUCCEEDED.
 */
export async function finishClaimedRun(db: PrismaClient, run: Pick<ClaimedRun, "id" | "orgId">, controller: AbortController, lease: { cancelled(): boolean }): Promise<void> {
  if (controller.signal.aborted) {
    if (lease.cancelled()) await transitionRun(db, SYSTEM, run.orgId, run.id, "CANCELLED", {}).catch(() => undefined);
    return;
  }
  await transitionRun(db, SYSTEM, run.orgId, run.id, "SUCCEEDED", {});
}

/** An unexpected error: logged with an id, and the run failed with that id only (the details stay in the server's log). */
export async function failWithInternalError(db: PrismaClient, run: Pick<ClaimedRun, "id" | "orgId" | "target">, error: unknown): Promise<void> {
  const id = Math.random().toString(16).slice(2, 10);
  console.error(`[hearth] ${run.target.toLowerCase()} run ${run.id} internal error ${id}:`, error);
  await failRun(db, run.orgId, run.id, `Internal error while running the eval (error id ${id}).`);
}
