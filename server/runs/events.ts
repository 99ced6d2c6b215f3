import { EventEmitter } from "node:events";

export interface MetricPoint {
  name: string;
  step: number;
  value: number;
}

// Live metric points for run pages. Shared through globalThis by the custom server and Next's bundles.
const key = Symbol.for("hearth.metricEvents");
const store = globalThis as unknown as Record<symbol, EventEmitter | undefined>;
export const metricEvents: EventEmitter = (store[key] ??= new EventEmitter().setMaxListeners(1000));

export function publishMetricPoints(runId: string, points: MetricPoint[]): void {
  metricEvents.emit(runId, points);
}
