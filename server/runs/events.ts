import type { PrismaClient } from "@/server/db/generated/client";
import { publishLive } from "@/server/live/bus";

export interface MetricPoint {
  name: string;
  step: number;
  value: number;
}

/** The live channel of a run's metric points (server/live/bus.ts). */
export const metricsChannel = (runId: string) => `run:${runId}:metrics`;

/** Live metric points for the run's page, on every instance: call it in (or right after) the transaction that stored them. */
export function publishMetricPoints(db: Pick<PrismaClient, "$executeRaw">, runId: string, points: MetricPoint[]): Promise<void> {
  return publishLive(db, metricsChannel(runId), points);
}

/** A run's new status, as the database announces it (a trigger on "Run", migration live_run_status_and_notifications). */
export interface RunStatusEvent {
  type: "run";
  runId: string;
  status: "QUEUED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "CANCELLED";
  kind: string;
  target: string;
}

/** The live channel of every run's status changes in a project (written by the database's trigger). */
export const runStatusChannel = (projectId: string) => `runs:${projectId}`;
