import { EventEmitter } from "node:events";

// "Node jobs are waiting in this organization": emitted when a run with target NODE is queued (or
// put back in the queue), so the inference hub can tell the organization's connected nodes to lease
// now instead of at their next poll (about a second). Shared through globalThis because run.create
// (inside Next's bundle) and the hub (started by server/main.ts) live in different module graphs of
// the same process. Nodes connected to other instances still find the job by polling.
const key = Symbol.for("hearth.nodeJobEvents");
const store = globalThis as unknown as Record<symbol, EventEmitter | undefined>;
export const nodeJobEvents: EventEmitter = (store[key] ??= new EventEmitter().setMaxListeners(100));

export function announceNodeJobs(orgId: string): void {
  nodeJobEvents.emit("queued", orgId);
}
