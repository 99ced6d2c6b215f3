// Per-key limits of the MCP server, counted from the database (so every instance sharing it counts the
// same calls): tool calls a key may make in a window, read from its audit entries, and eval runs it may
// launch in a window, read from the runs it created.
import type { PrismaClient } from "@/server/db/generated/client";

export interface WindowLimit {
  count: number;
  seconds: number;
}

function parseLimit(name: string, fallback: string): WindowLimit {
  const raw = process.env[name]?.trim() || fallback;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new Error(`${name} must look like 120/60 (calls/seconds), not ${JSON.stringify(raw)}.`);
  return { count: Number(match[1]), seconds: Number(match[2]) };
}

/** HEARTH_MCP_RATE_LIMIT: tool calls one key may make per window (default 120 a minute). */
export const toolCallLimit = () => parseLimit("HEARTH_MCP_RATE_LIMIT", "120/60");
/** HEARTH_MCP_RUN_QUOTA: runs one key may launch through MCP per window (default 50 a day). */
export const runQuota = () => parseLimit("HEARTH_MCP_RUN_QUOTA", "50/86400");

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

/** Whether the key may launch one more run now. */
export async function runQuotaLeft(db: PrismaClient, keyId: string): Promise<{ left: number; limit: WindowLimit }> {
  const limit = runQuota();
  const used = await db.run.count({ where: { createdById: keyId, createdAt: { gt: new Date(Date.now() - limit.seconds * 1000) } } });
  return { left: Math.max(0, limit.count - used), limit };
}
