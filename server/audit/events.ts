/** What the live audit feed carries per entry; clients re-read the list for the rest. */
export interface AuditEvent {
  id: string;
  action: string;
  actorLabel: string;
  createdAt: string;
}

/** The live channel of an organization's audit entries (server/live/bus.ts); "-" for entries of no organization. */
export const auditChannel = (orgId: string | null) => `audit:${orgId ?? "-"}`;
