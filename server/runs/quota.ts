// How many runs one API key may launch in a window (HEARTH_MCP_RUN_QUOTA): every key through the MCP
// server, and agents' keys on every path (the tRPC API too), counted from the runs the key created.
import type { PrismaClient } from "@/server/db/generated/client";
import { DomainError } from "@/server/errors";

export interface WindowLimit {
  count: number;
  seconds: number;
}

export function parseWindowLimit(name: string, fallback: string): WindowLimit {
  const raw = process.env[name]?.trim() || fallback;
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new Error(`${name} must look like 120/60 (count/seconds), not ${JSON.stringify(raw)}.`);
  return { count: Number(match[1]), seconds: Number(match[2]) };
}

/** HEARTH_MCP_RUN_QUOTA: runs one key may launch per window (default 50 a day). */
export const runQuota = () => parseWindowLimit("HEARTH_MCP_RUN_QUOTA", "50/86400");

/** Refuses (TOO_MANY_REQUESTS) a run the key has no quota left for. Not atomic: concurrent launches may pass it together. */
export async function assertRunQuota(db: PrismaClient, keyId: string): Promise<void> {
  const limit = runQuota();
  const used = await db.run.count({ where: { createdById: keyId, createdAt: { gt: new Date(Date.now() - limit.seconds * 1000) } } });
  if (used >= limit.count) throw new DomainError("TOO_MANY_REQUESTS", `This key has launched its quota of ${limit.count} runs in ${limit.seconds} seconds (HEARTH_MCP_RUN_QUOTA); try again later.`);
}
