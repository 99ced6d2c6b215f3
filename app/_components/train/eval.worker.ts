// The eval worker: loads a model version's artifact (a Hearth checkpoint, or a Hugging Face folder as
// one ustar archive) on this browser's GPU and runs a suite version's cases with the shared eval
// runner, reporting each graded case as it is done.
import { openBrowserGpu, type GpuContext } from "@/gpu/index";
import { loadTextModel, NoTokenizerError } from "@/gpu/nn/text-model";
import { runEval, textEvalModel } from "@/gpu/eval/runner";
import { tuningStore } from "./browser-store";
import { describeError, type EvalWorkerEvent, type EvalWorkerRequest } from "./protocol";

const signal = { aborted: false };
let started = false;

function send(event: EvalWorkerEvent) {
  (self as unknown as Worker).postMessage(event);
}

async function evaluate(request: Extract<EvalWorkerRequest, { type: "start" }>) {
  let ctx: GpuContext | null = null;
  try {
    ctx = await openBrowserGpu({ tuningStore, label: "hearth-eval" });
    send({ type: "gpu", adapter: ctx.report.adapter.description || ctx.report.adapter.vendor || "WebGPU adapter" });
    const model = await loadTextModel(ctx, request.model).catch((error: unknown) => {
      throw error instanceof NoTokenizerError ? new Error("This model version's checkpoint has no tokenizer, so its outputs cannot be decoded.") : error;
    });
    try {
      const summary = await runEval(request.cases, textEvalModel(model, { maxNewTokens: request.options.maxNewTokens }), {
        signal,
        onCase: (result, index) => send({ type: "case", index, result }),
      });
      send({ type: "done", cancelled: summary.cancelled, score: summary.score, passRate: summary.passRate });
    } finally {
      model.release();
    }
  } catch (error) {
    send({ type: "error", message: describeError(error) });
  } finally {
    ctx?.destroy();
  }
}

self.onmessage = (event: MessageEvent<EvalWorkerRequest>) => {
  const request = event.data;
  if (request.type === "start") {
    if (started) return send({ type: "error", message: "This worker already runs an eval." });
    started = true;
    void evaluate(request);
  } else if (request.type === "cancel") signal.aborted = true;
};
