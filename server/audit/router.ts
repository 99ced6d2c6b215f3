import { z } from "zod";
import { on } from "node:events";
import { router } from "@/server/trpc/init";
import { orgProcedure } from "@/server/trpc/procedures";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import { MCP_CALL_ACTION } from "@/server/mcp/limits";
import { auditEvents, type AuditEvent } from "./events";

const PAGE_SIZE_MAX = 200;

/** An agent session's MCP calls (after.thread) and whatever those calls changed (their request ids). */
async function threadFilter(db: PrismaClient, orgId: string, thread: string): Promise<Prisma.AuditLogWhereInput> {
  const inThread: Prisma.AuditLogWhereInput = { after: { path: ["thread"], equals: thread } };
  const calls = await db.auditLog.findMany({ where: { orgId, action: MCP_CALL_ACTION, ...inThread }, select: { requestId: true }, take: 5_000 });
  const requestIds = calls.map((c) => c.requestId).filter((id): id is string => !!id);
  return { OR: [inThread, { requestId: { in: requestIds } }] };
}

export const auditRouter = router({
  list: orgProcedure("ADMIN", "audit:read")
    .input(
      z.object({
        action: z.string().trim().max(100).optional(),
        actor: z.string().trim().max(200).optional(),
        resourceType: z.string().trim().max(100).optional(),
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
      const rows = await ctx.db.auditLog.findMany({
        where,
        orderBy: [{ createdAt: "desc" }, { id: "desc" }],
        take: input.limit + 1,
        ...(input.cursor ? { cursor: { id: input.cursor }, skip: 1 } : {}),
      });
      const hasMore = rows.length > input.limit;
      const items = hasMore ? rows.slice(0, input.limit) : rows;
      return { items, nextCursor: hasMore ? items[items.length - 1].id : null };
    }),
  /** Server-sent events: a signal per new audit entry in the organization (clients re-read the list). */
  live: orgProcedure("ADMIN", "audit:read").subscription(async function* ({ ctx, signal }) {
    for await (const [event] of on(auditEvents, "entry", { signal }) as AsyncIterable<[AuditEvent]>) {
      if (event.orgId === ctx.orgId) yield { id: event.id, action: event.action, actorLabel: event.actorLabel, createdAt: event.createdAt };
    }
  }),
});
