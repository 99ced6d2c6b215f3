// What the GPT job (./job.ts) and the Hugging Face decoder job (./decoder-job.ts) do alike: hold out
// 10% of the data for validation when the spec asks for it, and run train() with the spec's schedule,
// a checkpoint every checkpointEvery steps and at the end.

import type { TrainJobHooks, TrainJobSpec } from "./job-types";
import { train, type BatchSource, type TrainableModel, type TrainResult } from "./train";

export class JobDataError extends Error {}

/** Characters of corpus a from-scratch tokenizer is trained on (BPE training time grows with the text). */
export const TOKENIZER_SAMPLE_CHARS = 200_000;

export interface JobData {
  train: ArrayLike<number> | BatchSource;
  val?: ArrayLike<number> | BatchSource;
}

/** A token stream's windows; the last 10% validates when evalEvery is set and both parts hold a sequence. */
export function corpusData(ids: readonly number[], seqLen: number, spec: TrainJobSpec): JobData {
  if (ids.length < seqLen + 1) throw new JobDataError(`the corpus is ${ids.length} tokens, fewer than one sequence of ${seqLen} + 1`);
  const split = Math.floor(ids.length * 0.9);
  const canValidate = (spec.evalEvery ?? 0) > 0 && split >= seqLen + 1 && ids.length - split >= seqLen + 1;
  return { train: Int32Array.from(canValidate ? ids.slice(0, split) : ids), ...(canValidate ? { val: Int32Array.from(ids.slice(split)) } : {}) };
}

/** Supervised examples as batches; the last 10% validate (with their own seed) when evalEvery is set. */
export function exampleData<E>(examples: readonly E[], spec: TrainJobSpec, sampler: (examples: readonly E[], seed: number) => BatchSource): JobData {
  const seed = spec.seed ?? 1;
  const split = Math.floor(examples.length * 0.9);
  const canValidate = (spec.evalEvery ?? 0) > 0 && split >= 1 && split < examples.length;
  return { train: sampler(canValidate ? examples.slice(0, split) : examples, seed), ...(canValidate ? { val: sampler(examples.slice(split), seed + 7919) } : {}) };
}

/** train() on the spec's schedule from startStep; `save` writes the training state at each checkpoint. */
export function trainForJob(model: TrainableModel, data: JobData, spec: TrainJobSpec, o: { seqLen: number; startStep: number; hooks: TrainJobHooks; save: (step: number) => Promise<Uint8Array> }): Promise<TrainResult> {
  const { hooks } = o;
  return train(
    model,
    data,
    {
      steps: spec.steps,
      startStep: o.startStep,
      batchSize: spec.batchSize,
      seqLen: o.seqLen,
      gradAccum: spec.gradAccum,
      lr: spec.lr,
      warmupSteps: spec.warmupSteps,
      evalEvery: spec.evalEvery ?? 0,
      seed: spec.seed ?? 1,
      logEvery: Math.min(10, spec.checkpointEvery),
    },
    {
      control: hooks.control,
      onStep: async (m) => {
        await hooks.onStep?.(m);
        if (hooks.onCheckpoint && (m.step % spec.checkpointEvery === 0 || m.step === spec.steps)) await hooks.onCheckpoint(m.step, await o.save(m.step));
      },
    },
  );
}
