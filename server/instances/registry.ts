// This web instance among the others on one PostgreSQL (#26). Each instance registers itself at start with
// the address its peers reach it at, renews `lastSeenAt` every HEARTH_INSTANCE_HEARTBEAT_MS (2 s), and
// removes itself at a clean stop. One not seen for HEARTH_INSTANCE_STALE_SECONDS (10) counts as gone,
// killed or cut off, and so does every GPU node socket it held: no instance relays to it any more.
import { randomUUID } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import { runPeriodically } from "@/server/lib/periodic";

export interface InstanceSettings {
  heartbeatMs: number;
  staleAfterMs: number;
}

export function instanceSettings(env: NodeJS.ProcessEnv = process.env): InstanceSettings {
  const heartbeatMs = Number(env.HEARTH_INSTANCE_HEARTBEAT_MS ?? 2_000);
  const staleAfterMs = 1000 * Number(env.HEARTH_INSTANCE_STALE_SECONDS ?? 10);
  if (!(heartbeatMs >= 100) || !(staleAfterMs >= 2 * heartbeatMs)) {
    throw new Error("HEARTH_INSTANCE_HEARTBEAT_MS must be at least 100, and HEARTH_INSTANCE_STALE_SECONDS at least two heartbeats.");
  }
  return { heartbeatMs, staleAfterMs };
}

/**
 * Where the other instances reach this one: HEARTH_INSTANCE_URL when set (instances on several machines
 * must set it to an address the others can connect to), else this machine's loopback on the port.
 */
export function relayUrlFor(port: number, hostname: string, env: NodeJS.ProcessEnv = process.env): string {
  const configured = env.HEARTH_INSTANCE_URL?.replace(/\/+$/, "");
  if (configured) {
    const url = new URL(configured); // throws on a malformed value: the start fails, not the first relay
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error("HEARTH_INSTANCE_URL must be an http(s) URL.");
    return configured;
  }
  const host = hostname === "0.0.0.0" || hostname === "::" || hostname === "" ? "127.0.0.1" : hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}

export interface WebInstanceHandle {
  id: string;
  relayUrl: string;
  /** The cut-off below which another instance's heartbeat means it is gone. */
  aliveSince(): Date;
  stop(): Promise<void>;
}

export async function registerInstance(db: () => PrismaClient, relayUrl: string, settings = instanceSettings()): Promise<WebInstanceHandle> {
  const id = randomUUID();
  await db().webInstance.create({ data: { id, relayUrl } });
  let beats = 0;
  const heartbeat = runPeriodically("instance heartbeat", settings.heartbeatMs, async () => {
    // Re-created if a peer's sweep removed it (this instance was cut off from the database for a while).
    await db().webInstance.upsert({ where: { id }, update: { lastSeenAt: new Date() }, create: { id, relayUrl } });
    // Now and then (not every beat), instances gone for long are swept; their nodes' rows point nowhere (SET NULL).
    if (beats++ % 30 === 0) await db().webInstance.deleteMany({ where: { lastSeenAt: { lt: new Date(Date.now() - 30 * settings.staleAfterMs) } } });
  });
  return {
    id,
    relayUrl,
    aliveSince: () => new Date(Date.now() - settings.staleAfterMs),
    async stop() {
      await heartbeat.stop();
      await db().webInstance.deleteMany({ where: { id } }).catch((error: unknown) => console.error("[hearth] could not deregister this instance:", error));
    },
  };
}
