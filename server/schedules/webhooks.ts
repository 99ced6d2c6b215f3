// Webhook deliveries of drift alerts: a JSON POST through the SSRF guard (every hop checked after DNS
// resolution; redirects are not followed: a webhook answers where it was registered), signed with the
// schedule's secret, one attempt per claim. A failure is retried later with exponential backoff, up to
// the delivery's attempt limit; each attempt is recorded on the row, so retries survive a restart and
// instances sharing the database never send one attempt twice (the claim is a conditional update).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import { decryptSecret } from "@/server/endpoints/crypto";
import { guardedFetch, OutboundRequestError, SsrfRefused, type GuardOptions } from "@/server/endpoints/ssrf";
import { webhookSecretContext } from "./service";

export const SIGNATURE_HEADER = "x-hearth-signature";
export const TIMESTAMP_HEADER = "x-hearth-timestamp";
export const DELIVERY_HEADER = "x-hearth-delivery";
export const EVENT_HEADER = "x-hearth-event";

/** `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under the schedule's secret. */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

/** What a receiver does (README): recompute the signature and compare in constant time. */
export function verifyWebhookSignature(secret: string, timestamp: string, body: string, signature: string): boolean {
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

export interface DeliveryPolicy {
  /** Wait after the first failed attempt; doubled after each further one (default 30 s). */
  baseDelayMs: number;
  /** The longest wait between attempts (default 1 hour). */
  maxDelayMs: number;
  /** How long one attempt may take, and how long a claimed delivery is held from other instances (default 10 s). */
  timeoutMs: number;
}

export const DEFAULT_DELIVERY: DeliveryPolicy = { baseDelayMs: 30_000, maxDelayMs: 3_600_000, timeoutMs: 10_000 };

/** The wait after the `attempt`-th failed attempt. */
export function retryDelayMs(policy: DeliveryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
}

interface AttemptRecord {
  at: string;
  status: number | null;
  error: string | null;
}

/** Sends every delivery that is due; returns how many attempts were made. */
export async function deliverDueWebhooks(db: PrismaClient, options: { now: Date; policy?: DeliveryPolicy; guard?: GuardOptions; limit?: number }): Promise<number> {
  const policy = options.policy ?? DEFAULT_DELIVERY;
  const due = await db.webhookDelivery.findMany({
    where: { status: "PENDING", nextAttemptAt: { lte: options.now } },
    orderBy: { nextAttemptAt: "asc" },
    take: options.limit ?? 10,
    select: { id: true, nextAttemptAt: true },
  });
  let attempts = 0;
  for (const d of due) {
    // Held while it is sent: another instance sees it due only after the attempt could have ended.
    const claimed = await db.webhookDelivery.updateMany({
      where: { id: d.id, status: "PENDING", nextAttemptAt: d.nextAttemptAt },
      data: { nextAttemptAt: new Date(options.now.getTime() + policy.timeoutMs * 2), attempts: { increment: 1 } },
    });
    if (claimed.count !== 1) continue;
    attempts++;
    await attemptDelivery(db, d.id, options.now, policy, options.guard);
  }
  return attempts;
}

async function attemptDelivery(db: PrismaClient, deliveryId: string, now: Date, policy: DeliveryPolicy, guard?: GuardOptions): Promise<void> {
  const delivery = await db.webhookDelivery.findUniqueOrThrow({
    where: { id: deliveryId },
    select: { id: true, url: true, body: true, attempts: true, maxAttempts: true, attemptLog: true, schedule: { select: { id: true, webhookSecretCiphertext: true } } },
  });
  let status: number | null = null;
  let error: string | null = null;
  let fatal = false;
  try {
    if (!delivery.schedule.webhookSecretCiphertext) throw new Error("The schedule has no webhook secret any more.");
    const secret = decryptSecret(delivery.schedule.webhookSecretCiphertext, webhookSecretContext(delivery.schedule.id));
    const timestamp = String(Math.floor(now.getTime() / 1000));
    const response = await guardedFetch(
      delivery.url,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "Hearth webhook",
          [EVENT_HEADER]: "drift.alert",
          [DELIVERY_HEADER]: delivery.id,
          [TIMESTAMP_HEADER]: timestamp,
          [SIGNATURE_HEADER]: signWebhook(secret, timestamp, delivery.body),
        },
        body: delivery.body,
        timeoutMs: policy.timeoutMs,
        maxRedirects: 0,
        maxResponseBytes: 64 * 1024,
      },
      guard,
    );
    status = response.status;
    if (status < 200 || status >= 300) error = `HTTP ${status}${response.body ? `: ${response.body.slice(0, 200)}` : ""}`;
  } catch (e) {
    // A refused address stays refused (the guard re-checks DNS each time, and it now says no).
    fatal = e instanceof SsrfRefused || !(e instanceof OutboundRequestError);
    error = e instanceof Error ? e.message.slice(0, 500) : String(e);
    if (!(e instanceof SsrfRefused || e instanceof OutboundRequestError)) console.error(`[hearth] webhook delivery ${delivery.id} failed:`, e);
  }
  const log = [...((delivery.attemptLog as unknown as AttemptRecord[]) ?? []), { at: now.toISOString(), status, error }];
  const delivered = error === null;
  const givenUp = !delivered && (fatal || delivery.attempts >= delivery.maxAttempts);
  await db.webhookDelivery.update({
    where: { id: delivery.id },
    data: {
      status: delivered ? "DELIVERED" : givenUp ? "FAILED" : "PENDING",
      lastStatus: status,
      lastError: error,
      attemptLog: log as unknown as object[],
      deliveredAt: delivered ? now : undefined,
      nextAttemptAt: delivered || givenUp ? now : new Date(now.getTime() + retryDelayMs(policy, delivery.attempts)),
    },
  });
}
