// The training worker: runs one training job on this browser's GPU (WebGPU in the worker), keeping
// a resumable checkpoint in IndexedDB every checkpointEvery steps. The page records the run.
import { openBrowserGpu, type GpuContext } from "@/gpu/index";
import { runTrainJob, TrainControl } from "@/gpu/train";
import { saveCheckpoint, tuningStore } from "./browser-store";
import { describeError, type TrainWorkerEvent, type TrainWorkerRequest } from "./protocol";

const control = new TrainControl();
let started = false;

function send(event: TrainWorkerEvent, transfer: Transferable[] = []) {
  (self as unknown as Worker).postMessage(event, transfer);
}

async function train(request: Extract<TrainWorkerRequest, { type: "start" }>) {
  let ctx: GpuContext | null = null;
  try {
    ctx = await openBrowserGpu({ tuningStore, label: "hearth-train" });
    send({ type: "gpu", adapter: ctx.report.adapter.description || ctx.report.adapter.vendor || "WebGPU adapter" });
    const result = await runTrainJob(
      ctx,
      request.spec,
      { dataset: request.dataset, parent: request.parent, resume: request.resume },
      {
        control,
        onPhase: (phase) => send({ type: "phase", phase }),
        onStep: (metrics) => send({ type: "step", metrics }),
        onCheckpoint: async (step, bytes) => {
          await saveCheckpoint({ runId: request.runId, step, bytes });
          send({ type: "checkpoint", step });
        },
      },
    );
    const { artifact } = result;
    send(
      { type: "done", status: result.status, steps: result.steps, parameters: result.parameters, losses: result.losses, valLosses: result.valLosses, artifact, sha256: result.sha256, memory: result.memory },
      artifact ? [artifact.buffer] : [],
    );
  } catch (error) {
    send({ type: "error", message: describeError(error) });
  } finally {
    ctx?.destroy();
  }
}

self.onmessage = (event: MessageEvent<TrainWorkerRequest>) => {
  const request = event.data;
  if (request.type === "start") {
    if (started) return send({ type: "error", message: "This worker already runs a job." });
    started = true;
    void train(request);
  } else if (request.type === "pause") control.pause();
  else if (request.type === "resume") control.resume();
  else if (request.type === "cancel") control.cancel();
};
