import { EventEmitter } from "node:events";

export interface AuditEvent {
  id: string;
  orgId: string | null;
  action: string;
  actorLabel: string;
  resourceType: string;
  resourceId: string;
  createdAt: Date;
}

// In-process fan-out for the live audit feed. The emitter lives on globalThis so the custom server
// and Next's separately bundled route handlers share it.
const key = Symbol.for("hearth.auditEvents");
const store = globalThis as unknown as Record<symbol, EventEmitter | undefined>;
export const auditEvents: EventEmitter = (store[key] ??= new EventEmitter().setMaxListeners(1000));

export function publishAuditEvent(row: AuditEvent): void {
  // Emitted before the surrounding transaction commits; subscribers re-read from the database.
  queueMicrotask(() => auditEvents.emit("entry", row));
}
