// Requests between web instances (the /v1 relay) are signed with a key derived from HEARTH_SECRET_KEY,
// which every instance of a deployment shares: HMAC-SHA256 over the method, path, time and the body's
// sha256. A request older than 30 s, from the future, or seen before (its nonce) is refused, so a
// recorded relay cannot be replayed. Nothing else is accepted on the relay path.
import { createHash, createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import { serverKey } from "@/server/endpoints/crypto";

const MAX_SKEW_MS = 30_000;
export const RELAY_HEADERS = { time: "x-hearth-relay-time", nonce: "x-hearth-relay-nonce", signature: "x-hearth-relay-signature", from: "x-hearth-instance" } as const;

function relayKey(): Buffer {
  return createHmac("sha256", serverKey().key).update("hearth instance relay v1").digest();
}

function mac(method: string, path: string, time: string, nonce: string, body: string | Uint8Array): Buffer {
  const bodyHash = createHash("sha256").update(body).digest("hex");
  return createHmac("sha256", relayKey()).update([method.toUpperCase(), path, time, nonce, bodyHash].join("\n")).digest();
}

export function signRelay(method: string, path: string, body: string, from: string, now = Date.now()): Record<string, string> {
  const time = String(now);
  const nonce = randomUUID();
  return { [RELAY_HEADERS.time]: time, [RELAY_HEADERS.nonce]: nonce, [RELAY_HEADERS.from]: from, [RELAY_HEADERS.signature]: mac(method, path, time, nonce, body).toString("hex") };
}

export class RelayAuthError extends Error {}

/** Checks a relayed request's signature, age and nonce; throws RelayAuthError saying what is wrong. */
export class RelayVerifier {
  private readonly seen = new Map<string, number>();

  verify(method: string, path: string, headers: Record<string, string | string[] | undefined>, body: Uint8Array, now = Date.now()): void {
    const header = (name: string) => {
      const value = headers[name];
      return typeof value === "string" ? value : "";
    };
    const time = header(RELAY_HEADERS.time);
    const nonce = header(RELAY_HEADERS.nonce);
    const signature = header(RELAY_HEADERS.signature);
    if (!/^\d{1,16}$/.test(time) || !/^[0-9a-f-]{36}$/.test(nonce) || !/^[0-9a-f]{64}$/.test(signature)) throw new RelayAuthError("not a signed relay request");
    if (Math.abs(now - Number(time)) > MAX_SKEW_MS) throw new RelayAuthError("the relay request is too old, or the instances' clocks differ by more than 30 s");
    const expected = mac(method, path, time, nonce, body);
    if (!timingSafeEqual(expected, Buffer.from(signature, "hex"))) {
      throw new RelayAuthError("bad relay signature: every instance must have the same HEARTH_SECRET_KEY");
    }
    for (const [n, at] of this.seen) {
      if (now - at <= 2 * MAX_SKEW_MS) break; // kept in arrival order: the rest are younger
      this.seen.delete(n);
    }
    if (this.seen.has(nonce)) throw new RelayAuthError("a relay request was replayed");
    this.seen.set(nonce, now);
  }
}
