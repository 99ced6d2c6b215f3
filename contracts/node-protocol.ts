// The wire protocol between the server and a GPU node (`hearth node`): the job kinds and leased-job
// shape of the node HTTP API (/api/node/...), and the messages on the inference socket
// (/api/node/socket, JSON frames), where the server pushes completion requests and the node streams
// text back. Shared by both sides; imports no runtime of ours.
import type { CompletionRequest, CompletionResult } from "./serving";

export const NODE_SOCKET_PATH = "/api/node/socket";

export type ServerToNode =
  | { type: "complete"; id: string; request: CompletionRequest }
  | { type: "cancel"; id: string };

export type NodeToServer =
  /** The model versions the node holds in memory (sent on connect and whenever it changes). */
  | { type: "models"; loaded: string[] }
  | { type: "text"; id: string; delta: string }
  | { type: "done"; id: string; result: CompletionResult }
  /** `beforeOutput`: nothing was streamed yet, so another node may take the request. */
  | { type: "error"; id: string; message: string; beforeOutput: boolean };

/** The kinds of run a node can execute (the same names as the database's RunKind). */
export type RunKind = "PRETRAIN" | "SFT" | "LORA" | "EVAL";

export const NODE_JOB_KINDS: RunKind[] = ["PRETRAIN", "SFT", "LORA", "EVAL"];

/**
 * The engines a node can run: `webgpu` (Hearth's WGSL engine on Dawn, any GPU, no Python) and `torch`
 * (PyTorch with transformers and peft, in a Python environment the node was given). Training on a
 * Hugging Face folder (or from scratch in a known architecture), and evals and serving of a folder,
 * run on either; Hearth's own GPT checkpoints run on webgpu only.
 */
export type NodeEngine = "webgpu" | "torch";
export const NODE_ENGINES: NodeEngine[] = ["webgpu", "torch"];

/** A GPU as the torch engine sees it. */
export interface NodeGpu {
  name: string;
  memoryBytes: number;
}

/** What a node says about one engine at registration: whether it runs, and if not, exactly why. */
export interface EngineReport {
  engine: NodeEngine;
  available: boolean;
  /** Why the engine is unavailable (no Python given, a package missing, ...). */
  reason?: string;
  /** Versions of what the engine runs on (python, torch, transformers, peft, safetensors; cuda). */
  versions?: Record<string, string | null>;
  gpus?: NodeGpu[];
  /** torch: the processes one job may run as on this node (one per GPU, or --cpu-ranks on a CPU). */
  ranks?: number;
}

export interface JobCheckpoint {
  step: number;
  sha256: string;
  sizeBytes: number;
}

/** What a node needs to start (or resume) a leased job. */
export interface LeasedJob {
  runId: string;
  projectId: string;
  kind: RunKind;
  /** The engine that runs the job (recorded at its first lease; a resumed job keeps it). */
  engine: NodeEngine;
  config: Record<string, unknown>;
  datasetVersionId: string | null;
  modelVersionId: string | null;
  suiteVersionId: string | null;
  attempt: number;
  maxAttempts: number;
  /** The latest training checkpoint: resume from it. */
  checkpoint: JobCheckpoint | null;
  /** Eval cases that already have results (from an earlier attempt): skip them. */
  doneCaseIds: string[];
  /** A job on several nodes: this node's part of the attempt's gang lease (absent for a one-node job). */
  gang?: JobGang;
}

/**
 * One node's part of a multi-node job: torchrun's static rendezvous (`--nnodes`, `--node-rank`,
 * `--master-addr`, `--master-port`). Node rank 0 hosts the rendezvous (its --rendezvous-address and a
 * port the server chose) and alone reports metrics, checkpoints and the result.
 */
export interface JobGang {
  nodes: number;
  nodeRank: number;
  address: string;
  port: number;
}


export type LeaseState =
  /** `attempt`: the run's attempt number now (a reclaim starts a new attempt). */
  | { state: "held"; reclaimed: boolean; attempt?: number }
  | { state: "cancelled"; message: string }
  | { state: "lost"; message: string };

