// The node's inference side: one WebSocket to the server (reconnecting with backoff), a small cache
// of loaded model versions as TextModels, and completions streamed back as they are generated. A
// Hugging Face folder runs on the torch engine when the node has one (its own Python process; requests
// run concurrently and Python batches them); otherwise, and for Hearth checkpoints, on the WebGPU engine
// on a device of its own (so serving never disturbs a training job's device), one completion at a time.
import WebSocket from "ws";
import type { GpuContext } from "@/gpu/device";
import { loadTextModel, type TextModel } from "@/gpu/nn/text-model";
import { isTar } from "@/gpu/io/tar";
import type { NodeToServer, ServerToNode } from "@/contracts/node-protocol";
import { NODE_SOCKET_PATH } from "@/contracts/node-protocol";
import type { CompletionRequest } from "@/contracts/serving";
import type { NodeApiClient } from "./client";
import { streamCompletion } from "./generate";
import { LoadedModelCache } from "./model-cache";
import type { TorchEnv } from "./torch-engine";
import { loadTorchTextModel } from "./torch-inference";

/** The engines serving may use: a WebGPU device opened on first use, and the torch engine's Python. */
export interface ServingEngines {
  openGpu: (() => Promise<GpuContext>) | null;
  torch: TorchEnv | null;
}

interface Served {
  model: TextModel;
  engine: "webgpu" | "torch";
  release(): void;
}

export class NodeServing {
  private socket: WebSocket | null = null;
  private stopped = false;
  private reconnectDelay = 500;
  private readonly models = new LoadedModelCache<Served>(2);
  private readonly running = new Set<Promise<void>>();
  private readonly cancelled = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private ctx: Promise<GpuContext> | null = null;

  constructor(
    private readonly api: NodeApiClient,
    private readonly engines: ServingEngines,
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
      else if (message.type === "complete") this.queue = this.queue.then(() => this.begin(message.id, message.request));
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

  private async model(modelVersionId: string): Promise<Served> {
    let fresh = false;
    const loaded = await this.models.get(modelVersionId, async () => {
      // A Hearth checkpoint, or a Hugging Face folder as one ustar archive.
      const bytes = await this.api.bytes(`model-versions/${encodeURIComponent(modelVersionId)}/artifact`);
      let served: Served;
      if (this.engines.torch && isTar(bytes)) {
        const model = await loadTorchTextModel(this.engines.torch, bytes);
        served = { model, engine: "torch", release: () => model.release() };
      } else if (this.engines.openGpu) {
        this.ctx ??= this.engines.openGpu();
        const model = await loadTextModel(await this.ctx, bytes);
        served = { model, engine: "webgpu", release: () => model.release() };
      } else throw new Error("this node runs the torch engine only, and a Hearth GPT checkpoint needs the webgpu engine");
      fresh = true;
      return served;
    });
    if (fresh) {
      this.log(`loaded model version ${modelVersionId} for serving on the ${loaded.engine} engine`);
      this.send({ type: "models", loaded: this.loadedModelVersionIds() });
    }
    return loaded;
  }

  /** Loads the model (one at a time); a torch model's completion then runs beside others (Python batches them), a WebGPU one before the next starts. */
  private async begin(id: string, request: CompletionRequest): Promise<void> {
    let served: Served;
    try {
      if (this.cancelled.delete(id)) return;
      served = await this.model(request.modelVersionId);
    } catch (error) {
      this.cancelled.delete(id);
      this.send({ type: "error", id, message: `The GPU node could not run the model: ${(error as Error).message}`, beforeOutput: true });
      return;
    }
    const completion = this.complete(id, request, served.model);
    if (served.engine === "webgpu") return completion;
    this.running.add(completion);
    void completion.finally(() => this.running.delete(completion));
  }

  private async complete(id: string, request: CompletionRequest, model: TextModel): Promise<void> {
    let streamed = false;
    try {
      if (this.cancelled.has(id)) return;
      const result = await streamCompletion(model, request, {
        onText: (delta) => {
          streamed = true;
          this.send({ type: "text", id, delta });
        },
        cancelled: () => this.cancelled.has(id) || this.stopped,
      });
      if (this.cancelled.has(id)) this.log(`completion ${id} cancelled after ${result.completionTokens} of ${request.maxTokens} tokens`);
      else this.send({ type: "done", id, result });
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
    await Promise.all(this.running);
    this.models.release();
  }
}
