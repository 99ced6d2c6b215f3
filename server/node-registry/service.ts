// GPU nodes: registration, heartbeats, who is online, and the node actor behind a request.
import { instanceSettings } from "@/server/instances/registry";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { NodeActor } from "@/server/audit/service";
import type { EngineReport, NodeEngine } from "@/contracts/node-protocol";
import { queueSettings } from "@/server/job-queue/settings";
import { renewLease, type LeaseState } from "@/server/job-queue/queue";
import { clientAddress } from "@/server/auth/rate-limit";
import { authenticateNodeToken, type PresentedNodeToken } from "./tokens";

/** Refused node credentials: the node should stop (or wait for a new token), not retry. */
export class NodeAuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeAuthError";
  }
}

/** The node id is unknown under this token (never registered, or removed): register again. */
export class NodeUnknown extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeUnknown";
  }
}

export interface NodeRegistration {
  name: string;
  adapter: { vendor: string; architecture: string; device: string; description: string };
  features: string[];
  limits: Record<string, number>;
  memoryBytes: number | null;
  version: string;
  /** Default: webgpu only (agents from before engines were reported). */
  engines?: EngineReport[];
  /** Where peers reach it as a multi-node job's rendezvous host; null or absent: it takes no multi-node jobs. */
  rendezvousAddress?: string | null;
}

/** The engines a node runs, torch first: a node with both trains Hugging Face folders on torch. */
export function availableEngines(reports: EngineReport[] = [{ engine: "webgpu", available: true }]): NodeEngine[] {
  const on = new Set(reports.filter((r) => r.available).map((r) => r.engine));
  return (["torch", "webgpu"] as const).filter((e) => on.has(e));
}

export function nodeLabel(name: string, prefix: string): string {
  return `node "${name}" (hnt_${prefix})`;
}

async function presentedToken(db: PrismaClient, authorization: string | null, address: string | null): Promise<PresentedNodeToken> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  if (!match) throw new NodeAuthError("Send the node token as 'Authorization: Bearer hnt_…'.");
  const token = await authenticateNodeToken(db, match[1], address);
  if ("refused" in token) throw new NodeAuthError(token.refused);
  return token;
}

/**
 * A new node process joins: a row of its own (so two processes on one machine never share state).
 * Earlier processes of the same name and token that went offline are removed, so restarts do not
 * pile up on the Nodes page.
 */
export async function registerNode(db: PrismaClient, authorization: string | null, input: NodeRegistration, address: string | null = null) {
  const token = await presentedToken(db, authorization, address);
  const settings = queueSettings();
  const staleBefore = new Date(Date.now() - settings.offlineAfterMs);
  const node = await db.$transaction(async (tx) => {
    await tx.gpuNode.deleteMany({ where: { tokenId: token.tokenId, name: input.name, lastSeenAt: { lt: staleBefore } } });
    return tx.gpuNode.create({
      data: {
        orgId: token.orgId,
        tokenId: token.tokenId,
        name: input.name,
        adapter: { ...input.adapter, version: input.version } as Prisma.InputJsonValue,
        limits: input.limits as Prisma.InputJsonValue,
        features: input.features,
        memoryBytes: input.memoryBytes === null ? null : BigInt(input.memoryBytes),
        loadedModelVersionIds: [],
        engines: availableEngines(input.engines),
        rendezvousAddress: input.rendezvousAddress ?? null,
        engineInfo: Object.fromEntries((input.engines ?? [{ engine: "webgpu", available: true }]).map(({ engine, ...rest }) => [engine, rest])) as unknown as Prisma.InputJsonValue,
      },
      select: { id: true, orgId: true },
    });
  });
  return { nodeId: node.id, orgId: node.orgId, leaseMs: settings.leaseMs, heartbeatMs: settings.heartbeatMs };
}

/** The node behind a request: a valid, unrevoked token and a node id registered under it. */
export async function authenticateNode(db: PrismaClient, headers: Headers): Promise<NodeActor & { memoryBytes: bigint | null }> {
  const token = await presentedToken(db, headers.get("authorization"), clientAddress(headers));
  const nodeId = headers.get("x-hearth-node") ?? "";
  const node = nodeId ? await db.gpuNode.findUnique({ where: { id: nodeId }, select: { id: true, tokenId: true, name: true, memoryBytes: true } }) : null;
  // Removed (e.g. replaced after a long outage) or never registered: register again.
  if (!node || node.tokenId !== token.tokenId) throw new NodeUnknown("This node is not registered (or was removed); register again.");
  return { type: "node", nodeId: node.id, tokenId: token.tokenId, orgId: token.orgId, label: nodeLabel(node.name, token.prefix), memoryBytes: node.memoryBytes };
}

/** A heartbeat: the node is alive, says what it runs and holds, and renews its lease. */
export async function heartbeat(db: PrismaClient, node: NodeActor, input: { runId: string | null; loadedModelVersionIds: string[] }): Promise<{ lease: LeaseState | null }> {
  const lease = input.runId ? await renewLease(db, node, input.runId) : null;
  await db.gpuNode.update({
    where: { id: node.nodeId },
    data: { lastSeenAt: new Date(), currentRunId: lease?.state === "held" ? input.runId : null, loadedModelVersionIds: input.loadedModelVersionIds },
  });
  return { lease };
}

export type NodeStatus = "online" | "busy" | "offline";

export function nodeStatus(node: { lastSeenAt: Date; currentRunId: string | null }, now = Date.now()): NodeStatus {
  if (now - node.lastSeenAt.getTime() > queueSettings().offlineAfterMs) return "offline";
  return node.currentRunId ? "busy" : "online";
}

/** Every node of an organization with its status and current job, online ones first. */
export async function listNodes(db: PrismaClient, orgId: string) {
  const nodes = await db.gpuNode.findMany({
    where: { orgId },
    select: { id: true, name: true, adapter: true, limits: true, features: true, memoryBytes: true, engines: true, engineInfo: true, currentRunId: true, loadedModelVersionIds: true, startedAt: true, lastSeenAt: true, token: { select: { name: true, revokedAt: true } }, servingInstance: { select: { relayUrl: true, lastSeenAt: true } } },
    orderBy: { lastSeenAt: "desc" },
  });
  const runIds = nodes.map((n) => n.currentRunId).filter((id): id is string => !!id);
  const runs = await db.run.findMany({
    where: { id: { in: runIds } },
    select: { id: true, kind: true, status: true, projectId: true, attempts: true, project: { select: { name: true } } },
  });
  const byId = new Map(runs.map((r) => [r.id, r]));
  const now = Date.now();
  return nodes
    .map((n) => {
      const status = n.token.revokedAt ? "offline" : nodeStatus(n, now);
      const run = status === "offline" || !n.currentRunId ? null : (byId.get(n.currentRunId) ?? null);
      return {
        id: n.id,
        name: n.name,
        status,
        adapter: n.adapter as { vendor?: string; architecture?: string; device?: string; description?: string; version?: string },
        features: n.features,
        engines: n.engines,
        engineInfo: n.engineInfo as Partial<Record<NodeEngine, Omit<EngineReport, "engine">>>,
        memoryBytes: n.memoryBytes === null ? null : Number(n.memoryBytes),
        loadedModelVersionIds: status === "offline" ? [] : n.loadedModelVersionIds,
        /** The web instance holding the node's inference socket (host:port), while that instance is alive. */
        servingVia: status !== "offline" && n.servingInstance && n.servingInstance.lastSeenAt.getTime() > now - instanceSettings().staleAfterMs ? new URL(n.servingInstance.relayUrl).host : null,
        startedAt: n.startedAt,
        lastSeenAt: n.lastSeenAt,
        tokenName: n.token.name,
        currentRun: run ? { id: run.id, kind: run.kind, status: run.status, projectId: run.projectId, projectName: run.project.name, attempt: run.attempts } : null,
      };
    })
    .sort((a, b) => Number(a.status === "offline") - Number(b.status === "offline"));
}

/** Jobs waiting for or running on nodes in an organization, for the Nodes page. */
export async function listNodeJobs(db: PrismaClient, orgId: string) {
  const runs = await db.run.findMany({
    where: { target: "NODE", project: { orgId }, OR: [{ status: { in: ["QUEUED", "RUNNING"] } }, { finishedAt: { gt: new Date(Date.now() - 24 * 3_600_000) } }] },
    select: { id: true, kind: true, status: true, engine: true, projectId: true, attempts: true, maxAttempts: true, error: true, leaseNodeId: true, createdAt: true, startedAt: true, finishedAt: true, project: { select: { name: true } } },
    orderBy: { createdAt: "desc" },
    take: 50,
  });
  return runs.map(({ project, ...r }) => ({ ...r, projectName: project.name }));
}
