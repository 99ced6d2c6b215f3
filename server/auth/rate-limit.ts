// Limits on failed authentication: wrong passwords per account and per address, wrong API keys, node
// tokens, invitation tokens and /v1 keys per address, and wrong secrets per key. Shared by every
// instance through the database, without turning requests into writes (the embedded database has one
// writer):
//  - a failure is written when it happens (one upsert into AuthThrottle; a second write only when it
//    starts a block). Successes write nothing (a successful sign-in clears its account's count);
//  - the current blocks are kept in memory per instance and read back from the database at most once
//    a second, so a block one instance starts holds on the others within a second;
//  - once a subject passes its limit it is blocked with exponential backoff: 1 s, 2 s, 4 s ... up to
//    HEARTH_RATE_LIMIT_MAX_BLOCK_SECONDS; a blocked address or account is refused before any work
//    (no scrypt, no key lookup), answered 429 with Retry-After.
// Limits are "failures/seconds" (the count of failures, none older than `seconds` apart, that starts
// blocking), set by environment variables (README, configuration).
import type { PrismaClient } from "@/server/db/generated/client";
import { RateLimited } from "@/server/errors";

export type Bucket = "signin:account" | "signin:address" | "token:address" | "apikey:key" | "nodetoken:key";

interface Limit {
  failures: number;
  windowSeconds: number;
}

const ENV: Record<Bucket, [string, string]> = {
  "signin:account": ["HEARTH_RATE_LIMIT_SIGNIN_ACCOUNT", "5/900"],
  "signin:address": ["HEARTH_RATE_LIMIT_SIGNIN_ADDRESS", "20/900"],
  "token:address": ["HEARTH_RATE_LIMIT_TOKEN_ADDRESS", "20/60"],
  "apikey:key": ["HEARTH_RATE_LIMIT_TOKEN_KEY", "10/60"],
  "nodetoken:key": ["HEARTH_RATE_LIMIT_TOKEN_KEY", "10/60"],
};

export function limitOf(bucket: Bucket): Limit {
  const [name, fallback] = ENV[bucket];
  const text = process.env[name] || fallback;
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) throw new Error(`${name} must look like 5/900 (failures/seconds), not ${JSON.stringify(text)}`);
  return { failures: Number(match[1]), windowSeconds: Number(match[2]) };
}

function maxBlockSeconds(): number {
  const value = Number(process.env.HEARTH_RATE_LIMIT_MAX_BLOCK_SECONDS || 900);
  if (!Number.isFinite(value) || value < 1) throw new Error("HEARTH_RATE_LIMIT_MAX_BLOCK_SECONDS must be a positive number of seconds");
  return value;
}

/** Checks every limit now, so a misconfiguration stops the start rather than the first sign-in. */
export function checkRateLimitSettings(): void {
  for (const bucket of Object.keys(ENV) as Bucket[]) limitOf(bucket);
  maxBlockSeconds();
}

const SYNC_INTERVAL_MS = 1000;
const PRUNE_INTERVAL_MS = 10 * 60_000;

type Db = Pick<PrismaClient, "authThrottle" | "$queryRaw">;

interface Blocks {
  /** `${bucket}\0${subject}` -> blocked until (ms since epoch). */
  until: Map<string, number>;
  syncedAt: number;
  syncing: Promise<void> | null;
  prunedAt: number;
}

const blocksByDb = new WeakMap<object, Blocks>();
const keyOf = (bucket: Bucket, subject: string) => `${bucket}\0${subject}`;

function blocksOf(db: Db): Blocks {
  let blocks = blocksByDb.get(db);
  if (!blocks) blocksByDb.set(db, (blocks = { until: new Map(), syncedAt: 0, syncing: null, prunedAt: Date.now() }));
  return blocks;
}

/** Reads the blocks in force from the database, at most once a second per instance. */
async function reconcile(db: Db, blocks: Blocks): Promise<void> {
  if (Date.now() - blocks.syncedAt < SYNC_INTERVAL_MS) return;
  blocks.syncing ??= (async () => {
    try {
      const rows = await db.authThrottle.findMany({ where: { blockedUntil: { gt: new Date() } }, select: { bucket: true, subject: true, blockedUntil: true } });
      const until = new Map<string, number>();
      for (const row of rows) until.set(keyOf(row.bucket as Bucket, row.subject), row.blockedUntil!.getTime());
      // Blocks this instance started since the read began stay.
      for (const [key, ms] of blocks.until) if (ms > Date.now() && (until.get(key) ?? 0) < ms) until.set(key, ms);
      blocks.until = until;
      blocks.syncedAt = Date.now();
      if (Date.now() - blocks.prunedAt > PRUNE_INTERVAL_MS) {
        blocks.prunedAt = Date.now();
        const stale = new Date(Date.now() - 24 * 3600_000);
        await db.authThrottle.deleteMany({ where: { lastFailureAt: { lt: stale }, OR: [{ blockedUntil: null }, { blockedUntil: { lt: new Date() } }] } });
      }
    } finally {
      blocks.syncing = null;
    }
  })();
  await blocks.syncing;
}

/** Seconds until `subject` may try again in `bucket`, or 0. */
export async function blockedFor(db: Db, bucket: Bucket, subject: string): Promise<number> {
  const blocks = blocksOf(db);
  await reconcile(db, blocks);
  const until = blocks.until.get(keyOf(bucket, subject)) ?? 0;
  return until > Date.now() ? Math.ceil((until - Date.now()) / 1000) : 0;
}

/** Throws RateLimited when any of the (bucket, subject) pairs is blocked. */
export async function assertNotBlocked(db: Db, checks: Array<[Bucket, string | null | undefined]>): Promise<void> {
  let wait = 0;
  for (const [bucket, subject] of checks) if (subject) wait = Math.max(wait, await blockedFor(db, bucket, subject));
  if (wait > 0) throw new RateLimited(wait);
}

/** Records a failure for each (bucket, subject): one write each, a second when it starts a block. */
export async function recordFailure(db: Db, checks: Array<[Bucket, string | null | undefined]>): Promise<void> {
  for (const [bucket, subject] of checks) {
    if (!subject) continue;
    const limit = limitOf(bucket);
    const now = new Date();
    const staleBefore = new Date(now.getTime() - limit.windowSeconds * 1000);
    const [row] = await db.$queryRaw<{ failures: number }[]>`
      INSERT INTO "AuthThrottle" AS t ("bucket", "subject", "failures", "lastFailureAt") VALUES (${bucket}, ${subject}, 1, ${now})
      ON CONFLICT ("bucket", "subject") DO UPDATE SET
        "failures" = CASE WHEN t."lastFailureAt" < ${staleBefore} THEN 1 ELSE t."failures" + 1 END,
        "lastFailureAt" = ${now}
      RETURNING "failures"`;
    const failures = Number(row.failures);
    if (failures < limit.failures) continue;
    const seconds = Math.min(maxBlockSeconds(), 2 ** Math.min(30, failures - limit.failures));
    const until = new Date(now.getTime() + seconds * 1000);
    await db.authThrottle.update({ where: { bucket_subject: { bucket, subject } }, data: { blockedUntil: until } });
    blocksOf(db).until.set(keyOf(bucket, subject), until.getTime());
  }
}

/** After a success that should forgive earlier failures (a sign-in for its account). */
export async function clearFailures(db: Db, bucket: Bucket, subject: string): Promise<void> {
  await db.authThrottle.deleteMany({ where: { bucket, subject } });
  blocksOf(db).until.delete(keyOf(bucket, subject));
}

/**
 * The client's address, as server/main.ts stamps it on every request (x-hearth-client-address, from
 * the socket, or from X-Forwarded-For's last hop when HEARTH_TRUST_PROXY=1). Null when not stamped.
 */
export function clientAddress(headers: Headers | { get(name: string): string | null }): string | null {
  return headers.get(CLIENT_ADDRESS_HEADER) || null;
}

export const CLIENT_ADDRESS_HEADER = "x-hearth-client-address";

/** The address to stamp for a raw Node request: the socket's peer, or the proxy's word when trusted. */
export function addressOfSocket(remoteAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
  if (process.env.HEARTH_TRUST_PROXY === "1" && forwardedFor) {
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor).split(",").map((h) => h.trim()).filter(Boolean);
    if (hops.length) return hops[hops.length - 1];
  }
  return remoteAddress ?? "unknown";
}
