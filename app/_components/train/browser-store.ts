// What the browser keeps for training between page loads, in IndexedDB (usable from the page and
// from workers): the unfinished jobs, each job's latest training-state checkpoint, and the engine's
// measured kernel choices per adapter.
import type { TuningStore } from "@/gpu/device";
import type { TrainJobSpec } from "@/gpu/train";

const DB_NAME = "hearth-training";
const DB_VERSION = 1;
const JOBS = "jobs";
const CHECKPOINTS = "checkpoints";
const TUNING = "tuning";

/** A browser training run this browser started and has not finished (keyed by run id). */
export interface StoredJob {
  runId: string;
  orgId: string;
  projectId: string;
  modelId: string;
  spec: TrainJobSpec;
  datasetVersionId: string;
  parentVersionId?: string;
  createdAt: number;
  /** Set once training completed: the final checkpoint, kept until it is uploaded. */
  artifact?: Uint8Array;
  /** Training figures kept with the artifact, for the run's summary. */
  result?: TrainingOutcome;
}

export interface TrainingOutcome {
  steps: number;
  tokens: number;
  parameters: number;
  finalLoss: number | null;
  finalValLoss: number | null;
  /** Steady training speed near the end (tokens per second over the last steps). */
  tokensPerSecond: number | null;
  sha256: string;
  /** A Hugging Face model's memory plan and the GPU memory the job measured at its peak. */
  memory?: { plannedBytes: number; peakBytes: number };
}

export interface StoredCheckpoint {
  runId: string;
  step: number;
  bytes: Uint8Array;
}

let opening: Promise<IDBDatabase> | null = null;

function open(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    if (typeof indexedDB === "undefined") return reject(new Error("This browser has no IndexedDB; training progress cannot be kept across reloads."));
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(JOBS)) db.createObjectStore(JOBS, { keyPath: "runId" });
      if (!db.objectStoreNames.contains(CHECKPOINTS)) db.createObjectStore(CHECKPOINTS, { keyPath: "runId" });
      if (!db.objectStoreNames.contains(TUNING)) db.createObjectStore(TUNING);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB could not be opened."));
  }).catch((e: unknown) => {
    opening = null;
    throw e;
  });
  return opening;
}

async function run<T>(store: string, mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  return new Promise<T>((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const request = op(tx.objectStore(store));
    // Resolve when the transaction commits, so a write is durable before the caller moves on.
    tx.oncomplete = () => resolve(request.result as T);
    tx.onerror = () => reject(tx.error ?? request.error ?? new Error("IndexedDB request failed."));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted (is the disk full?)."));
  });
}

export const saveJob = (job: StoredJob) => run<IDBValidKey>(JOBS, "readwrite", (s) => s.put(job));
export const listJobs = () => run<StoredJob[]>(JOBS, "readonly", (s) => s.getAll());
export const saveCheckpoint = (checkpoint: StoredCheckpoint) => run<IDBValidKey>(CHECKPOINTS, "readwrite", (s) => s.put(checkpoint));
export const loadCheckpoint = (runId: string) => run<StoredCheckpoint | undefined>(CHECKPOINTS, "readonly", (s) => s.get(runId));

/** Forgets a job and its checkpoint (finished, cancelled or failed). */
export async function forgetJob(runId: string): Promise<void> {
  await run(JOBS, "readwrite", (s) => s.delete(runId));
  await run(CHECKPOINTS, "readwrite", (s) => s.delete(runId));
}

/** The engine's per-adapter kernel choices, so autotuning runs once per browser, not once per job. */
export const tuningStore: TuningStore = {
  get: (key) => run<string | undefined>(TUNING, "readonly", (s) => s.get(key)).catch(() => undefined),
  set: (key, value) => run<IDBValidKey>(TUNING, "readwrite", (s) => s.put(value, key)).then(
    () => undefined,
    () => undefined,
  ),
};
