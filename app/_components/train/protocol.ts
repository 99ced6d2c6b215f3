// Messages between the page and the training / eval workers. Bytes travel as transferred buffers.
import type { EvalCase } from "@/gpu/eval";
import type { RunnerCaseResult } from "@/gpu/eval/runner";
import type { StepMetrics, TrainJobSpec } from "@/gpu/train";

export type TrainWorkerRequest =
  | { type: "start"; runId: string; spec: TrainJobSpec; dataset: Uint8Array; parent?: Uint8Array; resume?: Uint8Array }
  | { type: "pause" }
  | { type: "resume" }
  | { type: "cancel" };

export type TrainWorkerEvent =
  | { type: "gpu"; adapter: string }
  | { type: "phase"; phase: string }
  | { type: "step"; metrics: StepMetrics }
  /** A training state for `step` is stored in IndexedDB. */
  | { type: "checkpoint"; step: number }
  | {
      type: "done";
      status: "completed" | "cancelled";
      steps: number;
      parameters: number;
      losses: Array<{ step: number; loss: number }>;
      valLosses: Array<{ step: number; loss: number }>;
      artifact?: Uint8Array;
      sha256?: string;
      memory?: { plannedBytes: number; peakBytes: number };
    }
  | { type: "error"; message: string };

export interface EvalOptions {
  maxNewTokens: number;
}

export type EvalWorkerRequest = { type: "start"; cases: EvalCase[]; model: Uint8Array; options: EvalOptions } | { type: "cancel" };

export type EvalWorkerEvent =
  | { type: "gpu"; adapter: string }
  | { type: "case"; index: number; result: RunnerCaseResult }
  | { type: "done"; cancelled: boolean; score: number; passRate: number }
  | { type: "error"; message: string };

/** What a worker reports for an error: the message a person can act on. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
