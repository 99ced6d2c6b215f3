import type { Prisma } from "@/server/db/generated/client";
import { actorLabel, type Actor } from "@/contracts/actor";
import { auditChannel, type AuditEvent } from "./events";
import { publishLive } from "@/server/live/bus";
import { requestContext } from "./request-context";
import type { AuditResourceType } from "@/contracts/audit";

type Tx = Prisma.TransactionClient;

/** Who acts: a person or API key (a request's actor), a GPU node (its token), or Hearth itself. */
export type AuditActor = Actor | NodeActor | { type: "system" };
export interface NodeActor {
  type: "node";
  nodeId: string;
  tokenId: string;
  orgId: string;
  label: string;
}

export interface AuditEntry {
  orgId: string | null;
  action: string;
  resourceType: AuditResourceType;
  resourceId: string;
  before?: unknown;
  after?: unknown;
}

function toJson(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonValue;
}

/** Appends an audit entry inside the caller's transaction, so the change and its record commit together. */
export async function recordAudit(
  tx: Tx,
  actor: AuditActor,
  entry: AuditEntry,
): Promise<void> {
  const who =
    actor.type === "system"
      ? { actorType: "SYSTEM" as const, actorId: "system", actorLabel: "Hearth" }
      : actor.type === "node"
        ? { actorType: "NODE" as const, actorId: actor.nodeId, actorLabel: actor.label }
        : actor.type === "user"
          ? { actorType: "USER" as const, actorId: actor.userId, actorLabel: actorLabel(actor) }
          : { actorType: "API_KEY" as const, actorId: actor.keyId, actorLabel: actorLabel(actor) };
  const row = await tx.auditLog.create({
    data: {
      ...who,
      orgId: entry.orgId,
      action: entry.action,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId,
      before: toJson(entry.before),
      after: toJson(entry.after),
      requestId: requestContext.getStore()?.requestId,
    },
  });
  // Every instance's live audit feed hears of it once this transaction commits (server/live/bus.ts).
  await publishLive(tx, auditChannel(row.orgId), { id: row.id, action: row.action, actorLabel: row.actorLabel, createdAt: row.createdAt.toISOString() } satisfies AuditEvent);
}

/**
 * Records that an agent's key was refused (by a procedure's guard or on the MCP server), in a
 * transaction of its own: the refused call changed nothing, but the attempt is part of the record.
 */
export async function auditAgentRefusal(
  db: { $transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> },
  actor: Extract<Actor, { type: "apiKey" }>,
  attempted: string,
  reason: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  await db.$transaction((tx) =>
    recordAudit(tx, actor, { orgId: actor.orgId, action: "agent.refused", resourceType: "ApiKey", resourceId: actor.keyId, after: { attempted, reason, ...details } }),
  );
}
