// Runs one training job on the torch engine exactly as `hearth node` starts it (node-agent/torch/train.py
// with the job's spec, dataset and parent folder as files) and returns its throughput from the step
// events it prints. Node-only; shared by the engines bench (CPU) and the GPU check (CUDA).
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

export interface EngineFigures {
  engine: "webgpu" | "torch";
  device: string;
  /** Processes the job ran as (torch: one per GPU). */
  processes?: number;
  steps: number;
  tokensPerStep: number;
  /** Tokens/s over the steps after the first (the first loads kernels, tunes, allocates). */
  tokensPerSec: number;
  msPerStep: number;
  /** Seconds from start to the end of the first step. */
  firstStepSeconds: number;
  losses: number[];
}

export interface StepPoint {
  step: number;
  tokens: number;
  elapsedMs: number;
  loss?: number;
}

/** Throughput between the first step and the last. */
export function figuresFromSteps(engine: EngineFigures["engine"], device: string, points: StepPoint[]): EngineFigures {
  if (points.length < 2) throw new Error(`${engine}: need at least two steps to time, got ${points.length}`);
  const first = points[0];
  const last = points.at(-1)!;
  const ms = last.elapsedMs - first.elapsedMs;
  const tokens = last.tokens - first.tokens;
  return {
    engine,
    device,
    steps: points.length,
    tokensPerStep: tokens / (points.length - 1),
    tokensPerSec: (tokens * 1000) / ms,
    msPerStep: ms / (points.length - 1),
    firstStepSeconds: first.elapsedMs / 1000,
    losses: points.flatMap((p) => (p.loss === undefined ? [] : [p.loss])),
  };
}

export async function runTorchEngineJob(o: {
  python: string;
  /** node-agent/torch/train.py; give it when this file runs from a bundle elsewhere. */
  script?: string;
  parentDir: string;
  spec: Record<string, unknown>;
  dataset: string;
  /** Processes (through torchrun, as a node runs a job with gpus > 1); default 1. */
  processes?: number;
  /**
   * Nodes (default 1): that many torchrun launchers on this machine joined by the static rendezvous at
   * 127.0.0.1 (as `hearth node` runs a job with `nodes` > 1), `processes` each; with GPUs, node i gets
   * GPUs i*processes... (CUDA_VISIBLE_DEVICES).
   */
  nodes?: number;
  gpus?: number;
  threads?: number;
  log?: (line: string) => void;
  timeoutMs?: number;
}): Promise<EngineFigures & { loadSeconds: number }> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-torch-"));
  const script = o.script ?? path.join(import.meta.dirname, "../../node-agent/torch/train.py");
  const nodes = o.nodes ?? 1;
  fs.writeFileSync(path.join(work, "spec.json"), JSON.stringify({ ...o.spec, ...((o.processes ?? 1) > 1 ? { gpus: o.processes } : {}), ...(nodes > 1 ? { nodes } : {}) }));
  fs.writeFileSync(path.join(work, "dataset"), o.dataset);
  const threads = String(o.threads ?? os.cpus().length);
  const started = performance.now();
  const processes = o.processes ?? 1;
  const jobArgs = [script, "--spec", path.join(work, "spec.json"), "--dataset", path.join(work, "dataset"), "--parent", o.parentDir, "--work", work];
  const port = 29600 + Math.floor(Math.random() * 300);
  const launch = (rank: number) =>
    nodes > 1
      ? ["-m", "torch.distributed.run", "--nnodes", String(nodes), "--node-rank", String(rank), "--master-addr", "127.0.0.1", "--master-port", String(port), "--nproc_per_node", String(processes), ...jobArgs]
      : processes > 1
        ? ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", String(processes), ...jobArgs]
        : jobArgs;
  const spawnNode = (rank: number) => {
    const devices = o.gpus && nodes > 1 ? { CUDA_VISIBLE_DEVICES: Array.from({ length: processes }, (_, i) => rank * processes + i).join(",") } : {};
    return spawn(o.python, launch(rank), {
      cwd: work,
      env: { ...process.env, PYTHONUNBUFFERED: "1", HF_HUB_OFFLINE: "1", TOKENIZERS_PARALLELISM: "false", TRANSFORMERS_VERBOSITY: "error", OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads, ...devices },
      stdio: ["ignore", "pipe", "pipe"],
    });
  };
  const child = spawnNode(0);
  // the other nodes print nothing (rank 0 reports); they end with rank 0's job
  const others = Array.from({ length: nodes - 1 }, (_, i) => spawnNode(i + 1));
  for (const other of others) other.stdout.resume();
  const othersErr: string[] = [];
  for (const other of others) other.stderr.on("data", (d: Buffer) => othersErr.push(d.toString()));
  const timer = setTimeout(() => [child, ...others].forEach((c) => c.kill("SIGKILL")), o.timeoutMs ?? 30 * 60_000);
  const points: StepPoint[] = [];
  let error: string | null = null;
  let stderr = "";
  let firstAt = 0;
  let device = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  readline.createInterface({ input: child.stdout }).on("line", (line) => {
    let e: { type: string; step?: number; tokens?: number; elapsedMs?: number; loss?: number; message?: string };
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    if (e.type === "start") device = (e as unknown as { device: string }).device;
    else if (e.type === "step") {
      if (!points.length) firstAt = performance.now();
      points.push({ step: e.step!, tokens: e.tokens!, elapsedMs: e.elapsedMs!, loss: e.loss });
      o.log?.(`torch: step ${e.step} loss ${e.loss!.toFixed(4)} at ${(e.elapsedMs! / 1000).toFixed(1)} s`);
    } else if (e.type === "error") error = e.message ?? "unknown";
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const otherCodes = await Promise.all(others.map((other) => (other.exitCode !== null ? other.exitCode : new Promise<number | null>((resolve) => other.once("close", resolve)))));
  clearTimeout(timer);
  if (otherCodes.some((c) => c !== 0)) throw new Error(`a node of the bench's torch job failed (exit ${otherCodes.join(", ")}): ${othersErr.join("").trim().split("\n").slice(-5).join("\n")}`);
  fs.rmSync(work, { recursive: true, force: true });
  if (code !== 0 || error) throw new Error(`the torch engine's job failed (exit ${code}): ${error ?? stderr.trim().split("\n").slice(-5).join("\n")}`);
  const figures = { ...figuresFromSteps("torch", device, points), processes: processes * nodes };
  // train.py's clock starts when its loop does: loading (imports, the folder, peft) is what came before
  const loadSeconds = (firstAt - started) / 1000 - figures.firstStepSeconds;
  return { ...figures, loadSeconds };
}

const PAIRS = [
  { prompt: "Can I get a refund after 40 days?", response: "Refunds are possible within thirty days of delivery." },
  { prompt: "How long does shipping take?", response: "Shipping takes five working days; express takes two." },
  { prompt: "My parcel arrived damaged.", response: "A damaged parcel is replaced at no cost once the photo is checked." },
];

/** The job both engines run: LoRA r 8 alpha 16 on the seven projections, no dropout, batch 1, seed 1. */
export function enginesSpec(seqLen: number, steps: number) {
  return { kind: "LORA" as const, steps, batchSize: 1, seqLen, lr: 1e-3, checkpointEvery: steps, seed: 1, lora: { rank: 8, alpha: 16 } };
}

export const enginesDataset = () => Array.from({ length: 40 }, (_, i) => JSON.stringify(PAIRS[i % PAIRS.length])).join("\n");

/** A SmolLM2-135M-shaped folder with `layers` layers at `dir` (test/bench/engines_folder.py, transformers). */
export function makeEnginesFolder(python: string, script: string, dir: string, layers: number): void {
  fs.rmSync(dir, { recursive: true, force: true });
  execFileSync(python, [script, dir, "--layers", String(layers)], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, HF_HUB_OFFLINE: "1", HF_HUB_DISABLE_PROGRESS_BARS: "1" } });
}
