// Timings of the node job queue. Leases are short so a dead node's job moves on quickly; a working
// node renews its lease with every heartbeat, and learns of a cancel on the same heartbeat.

function seconds(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number of seconds >= ${min}, got "${raw}"`);
  return value;
}

export interface QueueSettings {
  /** How long a lease lasts without renewal (HEARTH_NODE_LEASE_SECONDS, default 30). */
  leaseMs: number;
  /** How often a node heartbeats and renews (at most 1 s, so a cancel reaches it within about a second). */
  heartbeatMs: number;
  /** A node not heard from for this long is offline. */
  offlineAfterMs: number;
  /** How often the server looks for expired leases (HEARTH_NODE_SWEEP_SECONDS, default 2). */
  sweepMs: number;
  /** Ports the rendezvous of a multi-node job may use on its first node (HEARTH_RENDEZVOUS_PORTS, default 29500-29599). */
  rendezvousPorts: [number, number];
}

function portRange(): [number, number] {
  const raw = process.env.HEARTH_RENDEZVOUS_PORTS || "29500-29599";
  const m = /^(\d+)(?:-(\d+))?$/.exec(raw.trim());
  const from = Number(m?.[1]);
  const to = Number(m?.[2] ?? m?.[1]);
  if (!m || from < 1024 || to > 65535 || to < from) throw new Error(`HEARTH_RENDEZVOUS_PORTS must be a port or a range FROM-TO within 1024-65535, got "${raw}"`);
  return [from, to];
}

export function queueSettings(): QueueSettings {
  const leaseMs = seconds("HEARTH_NODE_LEASE_SECONDS", 30, 1) * 1000;
  const heartbeatMs = Math.min(1000, Math.floor(leaseMs / 3));
  return {
    leaseMs,
    heartbeatMs,
    offlineAfterMs: Math.max(5000, 5 * heartbeatMs),
    sweepMs: seconds("HEARTH_NODE_SWEEP_SECONDS", 2, 0.1) * 1000,
    rendezvousPorts: portRange(),
  };
}
