import { EventEmitter } from "node:events";
import { processSingleton } from "@/server/lib/process-singleton";

export interface AuditEvent {
  id: string;
  orgId: string | null;
  action: string;
  actorLabel: string;
  resourceType: string;
  resourceId: string;
  createdAt: Date;
}

// In-process fan-out for the live audit feed, one per process (see processSingleton): the custom
// server and Next's separately bundled route handlers share it.
export const auditEvents: EventEmitter = processSingleton("hearth.auditEvents", () => new EventEmitter().setMaxListeners(1000));

export function publishAuditEvent(row: AuditEvent): void {
  // Emitted before the surrounding transaction commits; subscribers re-read from the database.
  queueMicrotask(() => auditEvents.emit("entry", row));
}
