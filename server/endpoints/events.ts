import { EventEmitter } from "node:events";

// "An endpoint run was queued": run.create (inside Next's bundle) wakes the endpoint run worker
// (started by server/main.ts) at once instead of at its next poll. Shared through globalThis
// because the two live in different module graphs of the same process.
const key = Symbol.for("hearth.endpointRunEvents");
const store = globalThis as unknown as Record<symbol, EventEmitter | undefined>;
export const endpointRunEvents: EventEmitter = (store[key] ??= new EventEmitter().setMaxListeners(100));

export function announceEndpointRun(runId: string): void {
  endpointRunEvents.emit("queued", runId);
}
