// Per-key limits of the MCP server, counted from the database (so every instance sharing it counts the
// same calls): tool calls a key may make in a window, read from its audit entries; the runs it may
// launch are server/runs/quota.ts's.
import type { PrismaClient } from "@/server/db/generated/client";
import { parseWindowLimit, runQuota } from "@/server/runs/quota";

/** HEARTH_MCP_RATE_LIMIT: tool calls one key may make per window (default 120 a minute). */
export const toolCallLimit = () => parseWindowLimit("HEARTH_MCP_RATE_LIMIT", "120/60");

export function checkMcpSettings(): void {
  toolCallLimit();
  runQuota();
}

export const MCP_CALL_ACTION = "mcp.call";

/** Seconds until the key may call a tool again, or 0 when it is under its limit. */
export async function toolCallWait(db: PrismaClient, keyId: string): Promise<number> {
  const limit = toolCallLimit();
  const since = new Date(Date.now() - limit.seconds * 1000);
  const recent = await db.auditLog.findMany({
    where: { actorType: "API_KEY", actorId: keyId, action: MCP_CALL_ACTION, createdAt: { gt: since } },
    select: { createdAt: true },
    orderBy: { createdAt: "desc" },
    take: limit.count,
  });
  if (recent.length < limit.count) return 0;
  const oldest = recent[recent.length - 1].createdAt.getTime();
  return Math.max(1, Math.ceil((oldest + limit.seconds * 1000 - Date.now()) / 1000));
}
