import { randomBytes } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { actorId } from "@/contracts/actor";
import { randomToken, safeEqualHex, sha256Hex } from "@/server/auth/tokens";
import type { ApiScope } from "@/contracts/roles";
import { DomainError, RateLimited } from "@/server/errors";
import { assertNotBlocked, blockedFor, recordFailure } from "@/server/auth/rate-limit";

// Keys look like hth_<12 hex prefix>_<secret>. The prefix is public and indexed; the key's sha256 is
// stored. A fast hash is right here: the secret has 192 random bits, so guessing is hopeless anyway.
const KEY_PATTERN = /^hth_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$/;
const LAST_USED_RESOLUTION_MS = 60_000;

export const apiKeySelect = {
  id: true,
  name: true,
  prefix: true,
  scopes: true,
  agent: true,
  project: { select: { id: true, name: true, slug: true } },
  createdAt: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
} as const;

export async function createApiKey(
  db: PrismaClient,
  actor: Actor,
  input: { orgId: string; name: string; scopes: ApiScope[]; expiresInDays?: number; projectId?: string; agent?: boolean },
) {
  if (input.projectId) {
    const project = await db.project.findFirst({ where: { id: input.projectId, orgId: input.orgId }, select: { id: true } });
    if (!project) throw new DomainError("NOT_FOUND", "Project not found.");
  }
  const prefix = randomBytes(6).toString("hex");
  const secret = `hth_${prefix}_${randomToken(24)}`;
  const expiresAt = input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null;
  const createdById = actorId(actor);
  const key = await db.$transaction(async (tx) => {
    const row = await tx.apiKey.create({
      data: { orgId: input.orgId, projectId: input.projectId ?? null, name: input.name, prefix, secretHash: sha256Hex(secret), scopes: input.scopes, agent: input.agent ?? false, createdById, expiresAt },
      select: apiKeySelect,
    });
    await recordAudit(tx, actor, { orgId: input.orgId, action: "apiKey.create", resourceType: "ApiKey", resourceId: row.id, after: row });
    return row;
  });
  return { key, secret };
}

export async function revokeApiKey(db: PrismaClient, actor: Actor, orgId: string, keyId: string) {
  return db.$transaction(async (tx) => {
    const before = await tx.apiKey.findFirst({ where: { id: keyId, orgId }, select: apiKeySelect });
    if (!before) throw new DomainError("NOT_FOUND", "API key not found.");
    if (before.revokedAt) return before;
    const after = await tx.apiKey.update({ where: { id: keyId }, data: { revokedAt: new Date() }, select: apiKeySelect });
    await recordAudit(tx, actor, { orgId, action: "apiKey.revoke", resourceType: "ApiKey", resourceId: keyId, before, after });
    return after;
  });
}

/**
 * The actor for a presented key, or null for anything malformed, unknown, revoked or expired. Wrong
 * keys count against the caller's address (`address`, when known) and against the key whose public
 * prefix they name; a blocked address is refused before any lookup, and while a key is blocked wrong
 * secrets for it are refused (its right secret still works, so nobody can lock a key's owner out).
 * Throws RateLimited (429).
 */
export async function authenticateApiKey(db: PrismaClient, presented: string, address?: string | null): Promise<Actor | null> {
  await assertNotBlocked(db, [["token:address", address]]);
  const match = KEY_PATTERN.exec(presented);
  if (!match) {
    await recordFailure(db, [["token:address", address]]);
    return null;
  }
  const key = await db.apiKey.findUnique({
    where: { prefix: match[1] },
    select: { id: true, orgId: true, projectId: true, name: true, prefix: true, secretHash: true, scopes: true, agent: true, revokedAt: true, expiresAt: true, lastUsedAt: true },
  });
  if (!key || !safeEqualHex(key.secretHash, sha256Hex(presented))) {
    const wait = key ? await blockedFor(db, "apikey:key", key.prefix) : 0;
    if (wait) throw new RateLimited(wait);
    await recordFailure(db, [["token:address", address], ["apikey:key", key?.prefix]]);
    return null;
  }
  const now = Date.now();
  if (key.revokedAt || (key.expiresAt && key.expiresAt.getTime() <= now)) return null;
  if (!key.lastUsedAt || now - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    await db.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date(now) } });
  }
  return {
    type: "apiKey",
    keyId: key.id,
    orgId: key.orgId,
    ...(key.projectId ? { projectId: key.projectId } : {}),
    scopes: key.scopes,
    label: `${key.agent ? "Agent key" : "API key"} "${key.name}" (hth_${key.prefix})`,
    ...(key.agent ? { agent: true } : {}),
  };
}
