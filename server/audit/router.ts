import { z } from "zod";
import { router } from "@/server/trpc/init";
import { orgProcedure } from "@/server/trpc/procedures";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import { MCP_CALL_ACTION } from "@/server/mcp/limits";
import { auditChannel, type AuditEvent } from "./events";
import { liveBus } from "@/server/live/bus";
import { tracked } from "@trpc/server";
import { listAuditEntries } from "./list";
import { AUDIT_RESOURCE_TYPES } from "@/contracts/audit";

const PAGE_SIZE_MAX = 200;

/** An agent session's MCP calls (after.thread) and whatever those calls changed (their request ids). */
async function threadFilter(db: PrismaClient, orgId: string, thread: string): Promise<Prisma.AuditLogWhereInput> {
  const inThread: Prisma.AuditLogWhereInput = { after: { path: ["thread"], equals: thread } };
  const calls = await db.auditLog.findMany({ where: { orgId, action: MCP_CALL_ACTION, ...inThread }, select: { requestId: true }, take: 5_000 });
  const requestIds = calls.map((c) => c.requestId).filter((id): id is string => !!id);
  return { OR: [inThread, { requestId: { in: requestIds } }] };
}

export const auditRouter = router({
  /** Newest first; consecutive metric and result batches of one run are one entry (`group`), each with its page (`href`). */
  list: orgProcedure("ADMIN", "audit:read")
    .input(
      z.object({
        action: z.string().trim().max(100).optional(),
        actor: z.string().trim().max(200).optional(),
        resourceType: z.enum(AUDIT_RESOURCE_TYPES).optional(),
        /** An agent's session (MCP calls sent with X-Hearth-Agent-Session): its calls and the changes they made. */
        thread: z.string().trim().max(100).optional(),
        from: z.coerce.date().optional(),
        to: z.coerce.date().optional(),
        cursor: z.string().max(64).optional(),
        limit: z.number().int().min(1).max(PAGE_SIZE_MAX).default(50),
      }),
    )
    .query(async ({ ctx, input }) => {
      const thread = input.thread ? await threadFilter(ctx.db, ctx.orgId, input.thread) : {};
      const where: Prisma.AuditLogWhereInput = {
        ...thread,
        orgId: ctx.orgId,
        ...(input.action ? { action: { startsWith: input.action } } : {}),
        ...(input.actor ? { actorLabel: { contains: input.actor, mode: "insensitive" } } : {}),
        ...(input.resourceType ? { resourceType: input.resourceType } : {}),
        ...(input.from || input.to ? { createdAt: { ...(input.from ? { gte: input.from } : {}), ...(input.to ? { lte: input.to } : {}) } } : {}),
      };
      return listAuditEntries(ctx.db, ctx.orgId, where, input.cursor, input.limit);
    }),
  /** Server-sent events: a signal per new audit entry in the organization (clients re-read the list). */
  live: orgProcedure("ADMIN", "audit:read")
    .input(z.object({ lastEventId: z.string().max(20).nullish() }))
    .subscription(async function* ({ ctx, input, signal }) {
      // Entries recorded through any instance; a reconnecting client (Last-Event-ID) gets what it missed.
      for await (const message of liveBus(ctx.db).stream<AuditEvent>(auditChannel(ctx.orgId), signal, input.lastEventId)) yield tracked(message.id, message.payload);
    }),
});
