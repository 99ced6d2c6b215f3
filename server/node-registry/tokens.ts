// Node tokens: an ADMIN creates one per machine (or fleet), the secret is shown once, only its
// sha256 is stored, and revoking it shuts out every node using it on its next request.
import { randomBytes } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { actorId } from "@/contracts/actor";
import { randomToken, safeEqualHex, sha256Hex } from "@/server/auth/tokens";
import { DomainError, RateLimited } from "@/server/errors";
import { assertNotBlocked, blockedFor, recordFailure } from "@/server/auth/rate-limit";

// hnt_<12 hex prefix>_<secret>: the prefix is public and indexed (as for API keys); 192 random bits
// make a fast hash the right choice.
const TOKEN_PATTERN = /^hnt_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
const LAST_USED_RESOLUTION_MS = 60_000;

export const nodeTokenSelect = {
  id: true,
  name: true,
  prefix: true,
  createdAt: true,
  lastUsedAt: true,
  revokedAt: true,
} as const;

export async function createNodeToken(db: PrismaClient, actor: Actor, orgId: string, name: string) {
  const prefix = randomBytes(6).toString("hex");
  const secret = `hnt_${prefix}_${randomToken(24)}`;
  const token = await db.$transaction(async (tx) => {
    const row = await tx.nodeToken.create({
      data: { orgId, name, prefix, secretHash: sha256Hex(secret), createdById: actorId(actor) },
      select: nodeTokenSelect,
    });
    await recordAudit(tx, actor, { orgId, action: "nodeToken.create", resourceType: "NodeToken", resourceId: row.id, after: row });
    return row;
  });
  return { token, secret };
}

export function listNodeTokens(db: PrismaClient, orgId: string) {
  return db.nodeToken.findMany({
    where: { orgId },
    select: { ...nodeTokenSelect, _count: { select: { nodes: true } } },
    orderBy: { createdAt: "desc" },
  });
}

/**
 * Revokes a token. Its nodes are refused from their next request on; the jobs they hold go back to
 * the queue now instead of waiting for their leases to expire.
 */
export async function revokeNodeToken(db: PrismaClient, actor: Actor, orgId: string, tokenId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.nodeToken.findFirst({ where: { id: tokenId, orgId }, select: nodeTokenSelect });
    if (!before) throw new DomainError("NOT_FOUND", "Node token not found.");
    if (before.revokedAt) return before;
    const after = await tx.nodeToken.update({ where: { id: tokenId }, data: { revokedAt: new Date() }, select: nodeTokenSelect });
    // Expire the leases now: the queue's sweep hands the jobs on (or fails them after the last attempt).
    const nodes = await tx.gpuNode.findMany({ where: { tokenId }, select: { id: true } });
    if (nodes.length) {
      await tx.run.updateMany({
        where: { leaseNodeId: { in: nodes.map((n) => n.id) }, status: "RUNNING" },
        data: { leaseExpiresAt: new Date(0), error: `The node token "${before.name}" was revoked while a node held this job.` },
      });
      await tx.gpuNode.updateMany({ where: { tokenId }, data: { currentRunId: null } });
    }
    await recordAudit(tx, actor, { orgId, action: "nodeToken.revoke", resourceType: "NodeToken", resourceId: tokenId, before, after });
    return after;
  });
}

export interface PresentedNodeToken {
  tokenId: string;
  orgId: string;
  name: string;
  prefix: string;
}

/**
 * The token behind a presented secret, or why it is refused. Wrong tokens count against the address
 * and the token prefix they name, as for API keys (server/apikeys/service.ts); throws RateLimited.
 */
export async function authenticateNodeToken(db: PrismaClient, presented: string, address?: string | null): Promise<PresentedNodeToken | { refused: string }> {
  await assertNotBlocked(db, [["token:address", address]]);
  const match = TOKEN_PATTERN.exec(presented);
  if (!match) {
    await recordFailure(db, [["token:address", address]]);
    return { refused: "This is not a Hearth node token (they look like hnt_…)." };
  }
  const token = await db.nodeToken.findUnique({
    where: { prefix: match[1] },
    select: { id: true, orgId: true, name: true, prefix: true, secretHash: true, revokedAt: true, lastUsedAt: true },
  });
  if (!token || !safeEqualHex(token.secretHash, sha256Hex(presented))) {
    const wait = token ? await blockedFor(db, "nodetoken:key", token.prefix) : 0;
    if (wait) throw new RateLimited(wait);
    await recordFailure(db, [["token:address", address], ["nodetoken:key", token?.prefix]]);
    return { refused: "Unknown node token." };
  }
  if (token.revokedAt) return { refused: `The node token "${token.name}" was revoked.` };
  const now = Date.now();
  if (!token.lastUsedAt || now - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.nodeToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date(now) } });
  }
  return { tokenId: token.id, orgId: token.orgId, name: token.name, prefix: token.prefix };
}
