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
