import { EventEmitter } from "node:events";
import { processSingleton } from "@/server/lib/process-singleton";

export interface MetricPoint {
  name: string;
  step: number;
  value: number;
}

// Live metric points for run pages, one emitter per process (see processSingleton) for the custom server and Next's bundles.
export const metricEvents: EventEmitter = processSingleton("hearth.metricEvents", () => new EventEmitter().setMaxListeners(1000));

export function publishMetricPoints(runId: string, points: MetricPoint[]): void {
  metricEvents.emit(runId, points);
}
