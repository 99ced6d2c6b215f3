// The inference hub: each GPU node keeps one WebSocket to the server it registered with; a completion
// request goes to an online node of the organization, preferring one that already holds the model
// version (any node loads it on demand), and the node's text is relayed as it arrives. If a node
// fails before it produced any text, the next candidate gets the request.
// With several web instances (#26), each records in GpuNode.servingInstanceId which nodes' sockets it
// holds; a request whose best node is connected to another live instance is relayed there (./relay.ts).
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import type { PrismaClient } from "@/server/db/generated/client";
import { NoNodeAvailable, type CompletionOptions, type CompletionRequest, type CompletionResult } from "@/contracts/serving";
import { queueSettings } from "@/server/job-queue/settings";
import { authenticateNode, NodeAuthError, NodeUnknown } from "./service";
import type { NodeToServer, ServerToNode } from "@/contracts/node-protocol";
import { NodeUnavailable, relayCompletion, type LocalNodes, type RemoteNode } from "./relay";

interface Pending {
  onText?: (delta: string) => void;
  resolve: (result: CompletionResult) => void;
  reject: (error: Error) => void;
  streamed: boolean;
}

interface ConnectedNode {
  nodeId: string;
  orgId: string;
  socket: WebSocket;
  loaded: Set<string>;
  pending: Map<string, Pending>;
  alive: boolean;
}

const PING_MS = 10_000;

/** This web instance, when there may be others: its id and when a peer's heartbeat counts as gone. */
export interface HubInstance {
  id: string;
  aliveSince(): Date;
}

type Candidate = { local: ConnectedNode; score: number } | { remote: RemoteNode; score: number };

export class InferenceHub implements LocalNodes {
  private readonly nodes = new Map<string, ConnectedNode>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 });
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly db: () => PrismaClient,
    private readonly instance?: HubInstance,
  ) {
    // A node that stops answering pings (killed, network gone) is dropped and its requests fail over.
    this.pinger = setInterval(() => {
      for (const node of this.nodes.values()) {
        if (!node.alive) node.socket.terminate();
        else {
          node.alive = false;
          node.socket.ping();
        }
      }
    }, PING_MS);
    this.pinger.unref();
  }

  /** Authenticates a node's socket with its token and node id, then keeps it. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === "string") headers.set(name, value);
    authenticateNode(this.db(), headers).then(
      (node) => this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(node.nodeId, node.orgId, ws)),
      (error: unknown) => {
        const status = error instanceof NodeAuthError ? "401 Unauthorized" : error instanceof NodeUnknown ? "410 Gone" : "500 Internal Server Error";
        if (status.startsWith("500")) console.error("[hearth] node socket upgrade failed:", error);
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      },
    );
  }

  private attach(nodeId: string, orgId: string, socket: WebSocket): void {
    this.nodes.get(nodeId)?.socket.close(4000, "replaced by a newer connection");
    const node: ConnectedNode = { nodeId, orgId, socket, loaded: new Set(), pending: new Map(), alive: true };
    this.nodes.set(nodeId, node);
    if (this.instance) {
      this.db()
        .gpuNode.updateMany({ where: { id: nodeId }, data: { servingInstanceId: this.instance.id } })
        .catch((error: unknown) => console.error("[hearth] could not record a node's connection:", error));
    }
    socket.on("pong", () => (node.alive = true));
    socket.on("message", (data) => {
      node.alive = true;
      let message: NodeToServer;
      try {
        message = JSON.parse(String(data)) as NodeToServer;
      } catch {
        return;
      }
      this.receive(node, message);
    });
    socket.on("close", () => {
      if (this.nodes.get(nodeId) === node) {
        this.nodes.delete(nodeId);
        // Unless the node has connected to another instance meanwhile, which then holds it.
        if (this.instance) {
          this.db()
            .gpuNode.updateMany({ where: { id: nodeId, servingInstanceId: this.instance.id }, data: { servingInstanceId: null } })
            .catch((error: unknown) => console.error("[hearth] could not record a node's disconnect:", error));
        }
      }
      for (const [, p] of node.pending) p.reject(p.streamed ? new Error("The GPU node disconnected while generating.") : new NodeUnavailable("The GPU node disconnected."));
      node.pending.clear();
    });
    socket.on("error", () => socket.terminate());
  }

  private receive(node: ConnectedNode, message: NodeToServer): void {
    if (message.type === "models") {
      node.loaded = new Set(message.loaded); // other instances read the same list from the node's heartbeats
      return;
    }
    const pending = node.pending.get(message.id);
    if (!pending) return;
    if (message.type === "text") {
      pending.streamed = true;
      pending.onText?.(message.delta);
    } else if (message.type === "done") {
      node.pending.delete(message.id);
      pending.resolve(message.result);
    } else if (message.type === "error") {
      node.pending.delete(message.id);
      pending.reject(message.beforeOutput && !pending.streamed ? new NodeUnavailable(message.message) : new Error(message.message));
    }
  }

  /**
   * Nodes of the organization that can take the request, best first: one that holds the model version,
   * then an idle one, then one with fewer requests; a node held by another live instance counts one hop
   * worse. One query for both: what the nodes have loaded and whether they train comes from their
   * heartbeats; which instance holds each socket, from the instances themselves.
   */
  private async candidates(orgId: string, modelVersionId: string): Promise<Candidate[]> {
    if (!this.instance && ![...this.nodes.values()].some((n) => n.orgId === orgId)) return [];
    const rows = await this.db().gpuNode.findMany({
      where: { orgId, token: { revokedAt: null }, lastSeenAt: { gt: new Date(Date.now() - queueSettings().offlineAfterMs) } },
      select: { id: true, currentRunId: true, loadedModelVersionIds: true, servingInstanceId: true, servingInstance: { select: { relayUrl: true, lastSeenAt: true } } },
    });
    const alive = this.instance?.aliveSince();
    const candidates: Candidate[] = [];
    for (const row of rows) {
      const busy = row.currentRunId ? 2 : 0;
      const local = this.nodes.get(row.id);
      if (local && local.orgId === orgId) {
        candidates.push({ local, score: (local.loaded.has(modelVersionId) ? 0 : 4) + busy + Math.min(local.pending.size, 1) + local.pending.size / 1000 });
      } else if (alive && row.servingInstance && row.servingInstanceId !== this.instance!.id && row.servingInstance.lastSeenAt > alive) {
        candidates.push({ remote: { nodeId: row.id, relayUrl: row.servingInstance.relayUrl }, score: (row.loadedModelVersionIds.includes(modelVersionId) ? 0 : 4) + busy + 1 });
      }
    }
    // Stable: among equals, the order of the rows (no preference between here and elsewhere beyond the hop).
    return candidates.sort((a, b) => a.score - b.score);
  }

  async route(request: CompletionRequest, options: CompletionOptions = {}): Promise<CompletionResult> {
    const candidates = await this.candidates(request.orgId, request.modelVersionId);
    if (!candidates.length) throw new NoNodeAvailable();
    let lastError: Error | null = null;
    for (const candidate of candidates) {
      try {
        if ("local" in candidate) return await this.send(candidate.local, request, options);
        return await relayCompletion(this.instance!.id, candidate.remote, request, options);
      } catch (error) {
        if (!(error instanceof NodeUnavailable)) throw error;
        lastError = error;
      }
    }
    throw new NoNodeAvailable(`No GPU node could serve this model: ${lastError?.message ?? "all nodes failed"}`);
  }

  /** Runs a request relayed by another instance on one node connected here (of the request's organization). */
  routeTo(nodeId: string, request: CompletionRequest, options: CompletionOptions): Promise<CompletionResult> {
    const node = this.nodes.get(nodeId);
    if (!node || node.orgId !== request.orgId) return Promise.reject(new NodeUnavailable("The GPU node is no longer connected to that instance."));
    return this.send(node, request, options);
  }

  private send(node: ConnectedNode, request: CompletionRequest, options: CompletionOptions): Promise<CompletionResult> {
    const id = randomUUID();
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
    return new Promise<CompletionResult>((resolve, reject) => {
      const onAbort = () => {
        if (!node.pending.delete(id)) return;
        this.post(node, { type: "cancel", id });
        reject(signal?.reason instanceof Error ? signal.reason : new Error("The request was aborted."));
      };
      const done = () => signal?.removeEventListener("abort", onAbort);
      node.pending.set(id, {
        onText: options.onText,
        streamed: false,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      if (!this.post(node, { type: "complete", id, request })) {
        node.pending.delete(id);
        done();
        reject(new NodeUnavailable("The GPU node's connection is closed."));
      }
    });
  }

  private post(node: ConnectedNode, message: ServerToNode): boolean {
    if (node.socket.readyState !== node.socket.OPEN) return false;
    node.socket.send(JSON.stringify(message));
    return true;
  }

  /** Node ids with an open inference socket here (for tests and the Nodes page). */
  connectedNodeIds(): string[] {
    return [...this.nodes.keys()];
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const node of this.nodes.values()) node.socket.terminate();
    this.nodes.clear();
    if (this.instance) {
      await this.db()
        .gpuNode.updateMany({ where: { servingInstanceId: this.instance.id }, data: { servingInstanceId: null } })
        .catch((error: unknown) => console.error("[hearth] could not record the nodes' disconnect:", error));
    }
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
