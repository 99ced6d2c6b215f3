// What a training job is (stored as a run's config) and what it gives back: shared by the GPT job
// (./job.ts) and the Hugging Face decoder job (./decoder-job.ts).

import type { GPTConfig, GPTPresetName } from "../nn/config";
import type { DecoderConfig } from "../nn/hf-config";
import type { DecoderShapeName } from "./memory-plan";
import type { StepMetrics, TrainControl } from "./train";

export type TrainJobKind = "PRETRAIN" | "SFT" | "LORA";
export const TRAIN_JOB_KINDS: readonly TrainJobKind[] = ["PRETRAIN", "SFT", "LORA"];

/** Stored as a training run's config, whatever runs it (a browser or a node). */
export interface TrainJobSpec {
  kind: TrainJobKind;
  /**
   * Pre-training a Hugging Face decoder from random weights in a known model's shape (with a
   * tokenizer trained on the corpus: vocabSize, default 4096); the result is a folder transformers loads.
   */
  architecture?: DecoderShapeName;
  /** A Hearth GPT shape for training from scratch (with a parent, the parent's shape wins and it may be left out). */
  preset?: GPTPresetName;
  steps: number;
  batchSize: number;
  /** Default: the model's context length. */
  seqLen?: number;
  lr: number;
  warmupSteps?: number;
  gradAccum?: number;
  /** PRETRAIN from scratch: size of the byte-level BPE trained on the corpus (at least 256). */
  vocabSize?: number;
  seed?: number;
  /** Steps between checkpoints (there is always one at the end). */
  checkpointEvery: number;
  /** Validation loss every N steps on the held-out 10% of the data; 0 or absent disables. */
  evalEvery?: number;
  /**
   * LoRA: rank and alpha (scale alpha / rank); on a Hugging Face decoder also dropout on the
   * adapters' input and the projections adapted (q_proj ... down_proj; default all of them).
   */
  lora?: { rank: number; alpha: number; dropout?: number; targets?: string[] };
  /** Activation recomputation (Hugging Face decoders): keep block inputs only, recompute in backward; longer contexts fit. */
  recompute?: boolean;
  /** A decoder's exported weights: in the parent's dtype (default) or float32 (exact, twice the size of 16-bit). */
  exportDtype?: "source" | "float32";
  /**
   * Processes (one per GPU) the job runs on, each taking an equal share of every batch (the torch
   * engine; default 1). batchSize is the global batch and must be a multiple of it.
   */
  gpus?: number;
  /**
   * Nodes the job runs on at once (the torch engine; default 1), each with `gpus` processes: one gang
   * lease, torchrun's static rendezvous at the first node. batchSize must be a multiple of nodes x gpus.
   */
  nodes?: number;
  /** How several processes share the model: "ddp" (a full copy each) or "fsdp" (sharded). Default: ddp when it fits one GPU. */
  strategy?: "ddp" | "fsdp";
}

export interface TrainJobInput {
  /** The dataset version's bytes: UTF-8 text (PRETRAIN) or JSON Lines of {"prompt", "response"} (SFT, LORA). */
  dataset: Uint8Array;
  /**
   * The parent model version: a Hearth checkpoint, or a Hugging Face folder as a ustar archive
   * (gpu/io/tar.ts). Required for SFT and LORA, optional for PRETRAIN (continued pre-training).
   */
  parent?: Uint8Array;
  /** A training state from onCheckpoint: training continues exactly where it stopped. */
  resume?: Uint8Array;
}

export interface TrainJobHooks {
  onStep?: (m: StepMetrics) => void | Promise<void>;
  /** Every checkpointEvery steps and at the end: a resumable training state. */
  onCheckpoint?: (step: number, bytes: Uint8Array) => void | Promise<void>;
  onPhase?: (phase: "preparing" | "tokenizing" | "training" | "saving") => void;
  control?: TrainControl;
}

export interface TrainJobResult {
  status: "completed" | "cancelled";
  /** Optimizer steps done in total, counting those before a resume. */
  steps: number;
  losses: Array<{ step: number; loss: number }>;
  valLosses: Array<{ step: number; loss: number }>;
  /**
   * The final model (adapters merged) with its tokenizer; absent when cancelled. A Hearth
   * checkpoint, or for a Hugging Face parent a folder archive (with the adapter in adapter/ for LoRA).
   */
  artifact?: Uint8Array;
  sha256?: string;
  /** The model's shape: Hearth's GPTConfig, or a decoder's parsed config.json. */
  config: GPTConfig | DecoderConfig;
  /** A decoder job's memory plan (computed before it started) and the pool's measured peak while training. */
  memory?: { plannedBytes: number; peakBytes: number };
  parameters: number;
}

