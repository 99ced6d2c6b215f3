import { EventEmitter } from "node:events";
import { processSingleton } from "@/server/lib/process-singleton";

// "An endpoint run was queued": run.create (inside Next's bundle) wakes the endpoint run worker
// (started by server/main.ts) at once instead of at its next poll. One emitter per process (see
// processSingleton) because the two live in different module graphs of the same process.
export const endpointRunEvents: EventEmitter = processSingleton("hearth.endpointRunEvents", () => new EventEmitter().setMaxListeners(100));

export function announceEndpointRun(runId: string): void {
  endpointRunEvents.emit("queued", runId);
}
