// The node's inference side: one WebSocket to the server (reconnecting with backoff), a small cache
// of loaded model versions (Hearth checkpoints and Hugging Face folders alike, as TextModels) on a GPU
// device of its own (so serving never disturbs a training job's device), and one completion at a
// time, streamed back as it is generated.
import WebSocket from "ws";
import type { GpuContext } from "@/gpu/device";
import { loadTextModel, type TextModel } from "@/gpu/nn/text-model";
import type { NodeToServer, ServerToNode } from "@/contracts/node-protocol";
import { NODE_SOCKET_PATH } from "@/contracts/node-protocol";
import type { CompletionRequest } from "@/contracts/serving";
import type { NodeApiClient } from "./client";
import { streamCompletion } from "./generate";
import { LoadedModelCache } from "./model-cache";

export class NodeServing {
  private socket: WebSocket | null = null;
  private stopped = false;
  private reconnectDelay = 500;
  private readonly models = new LoadedModelCache<TextModel>(2);
  private readonly cancelled = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private ctx: Promise<GpuContext> | null = null;

  constructor(
    private readonly api: NodeApiClient,
    private readonly openGpu: () => Promise<GpuContext>,
    private readonly log: (line: string) => void,
  ) {}

  loadedModelVersionIds(): string[] {
    return this.models.ids();
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const url = `${this.api.serverUrl.replace(/^http/, "ws")}${NODE_SOCKET_PATH}`;
    const socket = new WebSocket(url, { headers: this.api.headers() });
    this.socket = socket;
    socket.on("open", () => {
      this.reconnectDelay = 500;
      this.send({ type: "models", loaded: this.loadedModelVersionIds() });
    });
    socket.on("message", (data) => {
      let message: ServerToNode;
      try {
        message = JSON.parse(String(data)) as ServerToNode;
      } catch {
        return;
      }
      if (message.type === "cancel") this.cancelled.add(message.id);
      else if (message.type === "complete") this.queue = this.queue.then(() => this.complete(message.id, message.request));
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      const wait = this.reconnectDelay * (0.75 + Math.random() * 0.5);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 10_000);
      setTimeout(() => this.connect(), wait).unref();
    });
  }

  private send(message: NodeToServer): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private async model(modelVersionId: string): Promise<TextModel> {
    let fresh = false;
    const loaded = await this.models.get(modelVersionId, async () => {
      this.ctx ??= this.openGpu();
      const ctx = await this.ctx;
      // A Hearth checkpoint, or a Hugging Face folder as one ustar archive: loadTextModel tells them apart.
      const bytes = await this.api.bytes(`model-versions/${encodeURIComponent(modelVersionId)}/artifact`);
      const candidate = await loadTextModel(ctx, bytes);
      fresh = true;
      return candidate;
    });
    if (fresh) {
      this.log(`loaded model version ${modelVersionId} for serving`);
      this.send({ type: "models", loaded: this.loadedModelVersionIds() });
    }
    return loaded;
  }

  private async complete(id: string, request: CompletionRequest): Promise<void> {
    let streamed = false;
    try {
      if (this.cancelled.has(id)) return;
      const model = await this.model(request.modelVersionId);
      const result = await streamCompletion(model, request, {
        onText: (delta) => {
          streamed = true;
          this.send({ type: "text", id, delta });
        },
        cancelled: () => this.cancelled.has(id) || this.stopped,
      });
      this.send({ type: "done", id, result });
    } catch (error) {
      this.send({ type: "error", id, message: `The GPU node could not run the model: ${(error as Error).message}`, beforeOutput: !streamed });
    } finally {
      this.cancelled.delete(id);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.socket?.close();
    await this.queue;
    this.models.release();
  }
}
