// The playground's worker: one model version on this browser's GPU, answering chat turns with the
// same generation code evals use (the model's chat template, its stop tokens), so what the playground
// shows is what an eval of the same settings would record.
import { openBrowserGpu, type GpuContext } from "@/gpu/index";
import { loadTextModel, NoTokenizerError, type TextModel } from "@/gpu/nn/text-model";
import { textEvalModel } from "@/gpu/eval/runner";
import { tuningStore } from "@/app/_components/train/browser-store";
import { describeError } from "@/app/_components/train/protocol";
import type { PlaygroundWorkerEvent, PlaygroundWorkerRequest } from "./protocol";

let ctx: GpuContext | null = null;
let model: TextModel | null = null;
// Turns run one after another: one model, one GPU queue.
let queue: Promise<void> = Promise.resolve();

function send(event: PlaygroundWorkerEvent) {
  (self as unknown as Worker).postMessage(event);
}

async function load(bytes: Uint8Array) {
  try {
    ctx = await openBrowserGpu({ tuningStore, label: "hearth-playground" });
    model = await loadTextModel(ctx, bytes).catch((error: unknown) => {
      throw error instanceof NoTokenizerError ? new Error("This model version's checkpoint has no tokenizer, so it cannot chat.") : error;
    });
    send({ type: "loaded", adapter: ctx.report.adapter.description || ctx.report.adapter.vendor || "WebGPU adapter" });
  } catch (error) {
    send({ type: "error", message: describeError(error) });
  }
}

async function chat(request: Extract<PlaygroundWorkerRequest, { type: "chat" }>) {
  if (!model) return send({ type: "error", id: request.id, message: "The model is not loaded." });
  const started = performance.now();
  try {
    const s = request.sampling;
    const text = await textEvalModel(model, { maxNewTokens: s.maxTokens, temperature: s.temperature, topK: s.topK || undefined, seed: s.seed }).chat!.generate(request.messages);
    send({ type: "answer", id: request.id, text, ms: Math.round(performance.now() - started) });
  } catch (error) {
    send({ type: "error", id: request.id, message: describeError(error) });
  }
}

self.onmessage = (event: MessageEvent<PlaygroundWorkerRequest>) => {
  const request = event.data;
  queue = queue.then(() => (request.type === "load" ? load(request.model) : chat(request)));
};
