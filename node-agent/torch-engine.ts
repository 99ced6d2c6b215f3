// The torch engine of `hearth node`: a Python environment with torch, transformers, peft and
// safetensors (given with --python, or made with --setup-torch cpu from node-agent/torch/requirements.txt),
// probed at start (node-agent/torch/probe.py), and training jobs run by node-agent/torch/train.py in
// a process group of its own (plain Python on a CPU, torchrun with one process per GPU), whose JSON
// lines the agent relays to the server as the webgpu engine's runTraining does: metrics, checkpoints,
// the result folder as an archive, completion; a cancel kills the group; a process that dies fails
// the attempt with its last stderr lines.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import type { EngineReport, NodeGpu } from "@/contracts/node-protocol";
import { readFolderFiles, writeFolderFiles } from "@/gpu/io/folder-node";
import { readTar, writeTar } from "@/gpu/io/tar";
import { parseHFConfig } from "@/gpu/nn/hf-config";
import { archiveFolderFiles } from "@/gpu/nn/text-model";
import { validateTrainJobSpec } from "@/gpu/train/job";
import type { TrainJobSpec } from "@/gpu/train/job-types";
import { planForSpec, randomDecoderTensors, scratchFolderFiles } from "@/gpu/train/decoder-job";
import type { DecoderConfig } from "@/gpu/nn/hf-config";
import { encodeSafetensors, type TensorToWrite } from "@/gpu/io/safetensors";
import { ActiveJob, JobFailure, MetricSender, reliably, runPath, type JobOutcome } from "./run-job";
import type { NodeApiClient } from "./client";

const TORCH_DIR = path.join(import.meta.dirname, "torch");
export const TORCH_REQUIREMENTS = path.join(TORCH_DIR, "requirements.txt");
const NEEDED = ["torch", "transformers", "peft", "safetensors"];

export interface TorchEnv {
  python: string;
  gpus: NodeGpu[];
  /** On a node without CUDA GPUs: processes one job may run as on the CPU (--cpu-ranks; default 1). */
  cpuRanks?: number;
}

/** Processes the torch engine can run one job as: one per GPU, or --cpu-ranks on a CPU. */
export const torchRanks = (torch: TorchEnv) => (torch.gpus.length ? torch.gpus.length : (torch.cpuRanks ?? 1));

interface ProbeOutput {
  python: string;
  packages: Record<string, string | null>;
  missing: string[];
  errors: Record<string, string>;
  cuda: string | null;
  gpus: Array<{ name: string; memoryBytes: number }>;
}

/** What the Python at `python` can run: the torch engine's report, with exactly what is missing when it cannot. */
export function probeTorch(python: string): { report: EngineReport; env: TorchEnv | null } {
  const r = spawnSync(python, [path.join(TORCH_DIR, "probe.py")], { encoding: "utf8", timeout: 120_000 });
  if (r.error) return { report: { engine: "torch", available: false, reason: `cannot run the Python "${python}": ${(r.error as NodeJS.ErrnoException).code ?? r.error.message}` }, env: null };
  let probe: ProbeOutput;
  try {
    probe = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "");
  } catch {
    return { report: { engine: "torch", available: false, reason: `the Python "${python}" could not run the probe (exit ${r.status ?? r.signal}): ${r.stderr.trim().split("\n").slice(-3).join(" ")}` }, env: null };
  }
  const versions: Record<string, string | null> = { python: probe.python, ...probe.packages, cuda: probe.cuda };
  const missing = NEEDED.filter((p) => !probe.packages[p]);
  if (missing.length) {
    const why = missing.map((p) => `${p} (${probe.errors[p] ?? "not installed"})`).join(", ");
    return { report: { engine: "torch", available: false, versions, reason: `the Python "${python}" lacks ${why}; install node-agent/torch/requirements.txt into it, or start the node with --setup-torch cpu` }, env: null };
  }
  const gpus = probe.gpus.map((g) => ({ name: g.name, memoryBytes: g.memoryBytes }));
  return { report: { engine: "torch", available: true, versions, gpus }, env: { python, gpus } };
}

/**
 * --setup-torch cpu: a virtual environment at `dir` with the hash-pinned requirements (pip's own index
 * configuration; no retries against an unreachable index). Returns its Python.
 */
export function setupTorch(variant: string, dir: string, log: (line: string) => void): string {
  if (variant !== "cpu") throw new Error(`--setup-torch knows "cpu" only (a CUDA build is not pinned yet), got "${variant}"`);
  const python = path.join(dir, "bin", "python");
  if (!fs.existsSync(python)) {
    log(`creating a Python environment for the torch engine in ${dir}`);
    const venv = spawnSync("python3", ["-m", "venv", dir], { stdio: "inherit" });
    if (venv.status !== 0) throw new Error(`python3 -m venv ${dir} failed (${venv.error?.message ?? `exit ${venv.status}`}); install Python 3.10+ with venv, or give --python`);
  }
  log(`installing ${TORCH_REQUIREMENTS} (pip install --require-hashes)`);
  const pip = spawnSync(python, ["-m", "pip", "install", "-q", "--retries", "0", "--timeout", "10", "--require-hashes", "-r", TORCH_REQUIREMENTS], { stdio: "inherit" });
  if (pip.status !== 0) throw new Error(`installing the torch engine's requirements into ${dir} failed (exit ${pip.status}); see pip's output above`);
  return python;
}

/** The default place for --setup-torch's environment. */
export const defaultTorchDir = () => path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "hearth", "torch-venv");

export interface TorchJobEnv {
  api: NodeApiClient;
  torch: TorchEnv;
  log: (line: string) => void;
}

/** The last lines a Python process wrote to stderr (what a failure quotes), kept as it writes them. */
export function stderrTail(stream: NodeJS.ReadableStream, keep = 20): string[] {
  const lines: string[] = [];
  readline.createInterface({ input: stream }).on("line", (line) => {
    lines.push(line);
    if (lines.length > keep) lines.shift();
  });
  return lines;
}
/** How long a torch process that reported its result may take to exit before it is stopped. */
const DONE_EXIT_MS = 60_000;

/** HEARTH_TORCH_STALL_SECONDS: how long a loaded torch job may print nothing before it counts as hung. */
function stallSeconds(): number {
  const raw = process.env.HEARTH_TORCH_STALL_SECONDS;
  const n = raw === undefined || raw === "" ? 1800 : Number(raw);
  if (!(n > 0)) throw new Error(`HEARTH_TORCH_STALL_SECONDS must be a positive number of seconds, got "${raw}"`);
  return n;
}

type TorchEvent =
  | { type: "start"; device: string; processes: number; dtype: string; trainable: number }
  | { type: "step"; step: number; loss: number; lr: number; tokens: number; elapsedMs: number; valLoss?: number }
  | { type: "checkpoint"; step: number; path: string }
  | { type: "done"; path: string; steps: number; parameters: number; finalLoss: number | null }
  | { type: "error"; message: string; retryable?: boolean };

/** A training job on the torch engine, from its leased spec to the model version (or a failed attempt). */
export async function runTorchTraining(env: TorchJobEnv, active: ActiveJob): Promise<JobOutcome> {
  const { job } = active;
  let spec;
  try {
    spec = validateTrainJobSpec({ ...job.config, kind: job.kind });
  } catch (error) {
    throw new JobFailure(`Invalid training config: ${(error as Error).message}`, false);
  }
  const jobEnv = { api: env.api, log: env.log };
  const fetchBytes = (what: string, p: string) => reliably(jobEnv, active, `downloading the ${what}`, () => env.api.bytes(runPath(job, p)));
  if (!job.modelVersionId && !(spec.kind === "PRETRAIN" && spec.architecture)) throw new JobFailure("The torch engine trains a Hugging Face folder parent, or pre-trains a known architecture; this run has neither.", false);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `hearth-torch-${job.runId}-`));
  try {
    const dataset = await fetchBytes("dataset", "dataset");
    fs.writeFileSync(path.join(work, "dataset"), dataset);
    let parentFiles: Map<string, Uint8Array>;
    if (!job.modelVersionId) parentFiles = scratchParent(spec, dataset, (line) => env.log(`run ${job.runId}: ${line}`));
    else {
      try {
        parentFiles = archiveFolderFiles(await fetchBytes("parent model", "model"));
      } catch {
        parentFiles = new Map();
      }
    }
    if (!parentFiles.has("config.json")) throw new JobFailure("The torch engine trains Hugging Face folders; the parent model version is not one (Hearth GPT checkpoints train on webgpu).", false);
    try {
      writeFolderFiles(parentFiles, path.join(work, "parent"));
    } catch (error) {
      throw new JobFailure(`The parent archive cannot be unpacked: ${(error as Error).message}`, false);
    }
    const args = ["--spec", path.join(work, "spec.json"), "--dataset", path.join(work, "dataset"), "--parent", path.join(work, "parent"), "--work", work];
    let resumed: Map<string, Uint8Array> | null = null;
    if (job.checkpoint) {
      const bytes = await fetchBytes(`checkpoint of step ${job.checkpoint.step}`, `checkpoints/${job.checkpoint.step}`);
      fs.writeFileSync(path.join(work, "resume.tar"), bytes);
      args.push("--resume", path.join(work, "resume.tar"));
      env.log(`run ${job.runId}: resuming from the checkpoint of step ${job.checkpoint.step}`);
      try {
        resumed = readTar(bytes);
      } catch {
        resumed = null; // train.py says what is wrong with it
      }
    }
    const ranks = spec.gpus ?? 1;
    // A gang's nodes choose alike when they have alike GPUs (or a checkpoint records it); name it in mixed gangs.
    if ((ranks > 1 || job.gang) && !spec.strategy) spec = { ...spec, strategy: chooseStrategy(spec, parentFiles, resumed, env.torch) };
    fs.writeFileSync(path.join(work, "spec.json"), JSON.stringify(spec));
    return await runProcess(env, active, spec, work, args);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Pre-training from scratch: the folder the WebGPU engine's job starts from (scratchFolderFiles: the
 * architecture's config, a tokenizer trained on the corpus) with its initial weights written out
 * (randomDecoderTensors, the same seed), so both engines start from the same model.
 */
function scratchParent(spec: TrainJobSpec, dataset: Uint8Array, log: (line: string) => void): Map<string, Uint8Array> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(dataset);
  } catch {
    throw new JobFailure("Invalid training config: dataset is not valid UTF-8 text", false);
  }
  let scratch;
  try {
    log(`training a tokenizer on the corpus for a new ${spec.architecture}`);
    scratch = scratchFolderFiles(spec, text);
  } catch (error) {
    throw new JobFailure((error as Error).message, false);
  }
  const tensors = new Map<string, TensorToWrite>();
  for (const t of randomDecoderTensors(scratch.hfConfig, spec.seed ?? 1)) tensors.set(t.name, { dtype: "F32", shape: t.shape, data: new Float32Array(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength / 4) });
  return new Map([...scratch.files, ["model.safetensors", encodeSafetensors(tensors, { format: "pt" })]]);
}

/**
 * DDP or FSDP for a job on several processes that names neither: what its checkpoint was written with
 * when it resumes (the optimizer's state differs), else FSDP when the job's memory plan exceeds one of
 * this node's GPUs, else DDP (a CPU node: DDP).
 */
function chooseStrategy(spec: TrainJobSpec, parent: Map<string, Uint8Array>, resumed: Map<string, Uint8Array> | null, torch: TorchEnv): "ddp" | "fsdp" {
  const saved = resumed?.get("job.json");
  if (saved) {
    const s = (JSON.parse(new TextDecoder().decode(saved)) as { strategy?: unknown }).strategy;
    if (s === "ddp" || s === "fsdp") return s;
  }
  if (!torch.gpus.length) return "ddp";
  const config = parseHFConfig(JSON.parse(new TextDecoder().decode(parent.get("config.json"))));
  if (config.modelType === "gpt2") return "ddp";
  const plan = planForSpec(config as DecoderConfig, spec, { sourceBytes: config.dtype === "float32" ? 4 : 2 });
  return plan.total > Math.min(...torch.gpus.map((g) => g.memoryBytes)) ? "fsdp" : "ddp";
}

async function runProcess(env: TorchJobEnv, active: ActiveJob, spec: TrainJobSpec, work: string, args: string[]): Promise<JobOutcome> {
  const { job } = active;
  const jobEnv = { api: env.api, log: env.log };
  const script = path.join(TORCH_DIR, "train.py");
  // One process per GPU the job asks for (the lease gave it a node with that many), through torchrun;
  // on a node without GPUs, that many processes on the CPU (gloo), sharing its cores.
  const ranks = spec.gpus ?? 1;
  const gpus = env.torch.gpus.length;
  // A job on several nodes: torchrun's static rendezvous at node rank 0 (the address and port its lease gave).
  const { gang } = job;
  const secondary = !!gang && gang.nodeRank > 0;
  const launch = gang
    ? ["--nnodes", String(gang.nodes), "--node-rank", String(gang.nodeRank), "--master-addr", gang.address, "--master-port", String(gang.port)]
    : ["--standalone"];
  const argv = ranks > 1 || gang ? ["-m", "torch.distributed.run", ...launch, "--nproc_per_node", String(ranks), script, ...args] : [script, ...args];
  const threads = gpus === 0 && ranks > 1 ? { OMP_NUM_THREADS: String(Math.max(1, Math.floor(os.cpus().length / ranks))) } : {};
  const child = spawn(env.torch.python, argv, {
    cwd: work,
    detached: true, // its own process group: a cancel kills torchrun and every rank
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PYTHONUNBUFFERED: "1", HF_HUB_OFFLINE: "1", HF_HUB_DISABLE_PROGRESS_BARS: "1", TRANSFORMERS_VERBOSITY: "error", TOKENIZERS_PARALLELISM: "false", ...threads },
  });
  const where = gpus > 0 ? `${ranks} of ${gpus} GPU${gpus === 1 ? "" : "s"}` : "the CPU";
  const shape = gang
    ? `torchrun, node rank ${gang.nodeRank} of ${gang.nodes}, ${ranks} process${ranks === 1 ? "" : "es"} here with ${spec.strategy ?? "ddp"}, on ${where}`
    : ranks > 1
      ? `torchrun, ${ranks} processes with ${spec.strategy}, on ${where}`
      : `one process, on ${gpus > 0 ? "GPU 0" : "the CPU"}`;
  env.log(`run ${job.runId}: torch process ${child.pid} started (${shape})`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  let killTimer: NodeJS.Timeout | undefined;
  const killGroup = () => {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {}
    killTimer ??= setTimeout(() => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    }, 3000);
  };
  active.onStop(killGroup);

  // A process that stops making progress (a hung collective, a stopped process) fails the attempt: after
  // it has loaded the model, no line for HEARTH_TORCH_STALL_SECONDS (default 30 min) kills the group.
  const stallMs = stallSeconds() * 1000;
  let started = false;
  let lastLineAt = Date.now();
  let stalled = false;
  let doneTimer: NodeJS.Timeout | undefined;
  let endedAfterDone = false;
  const watchdog = setInterval(() => {
    if (started && !stalled && Date.now() - lastLineAt > stallMs) {
      stalled = true;
      env.log(`run ${job.runId}: the torch process printed nothing for ${stallMs / 1000} s; stopping it`);
      killGroup();
    }
  }, Math.min(1000, stallMs));

  const stderr = stderrTail(child.stderr!);

  const metrics = new MetricSender(jobEnv, active);
  let previous: { elapsedMs: number; tokens: number } | null = null;
  let reported: { message: string; retryable: boolean } | null = null;
  let done: Extract<TorchEvent, { type: "done" }> | null = null;
  let lastLoss: number | null = null;
  let lastVal: number | null = null;
  // Events are handled one after another, in order: a checkpoint is stored after the metrics before it.
  let handling: Promise<void> = Promise.resolve();
  let handlingError: unknown = null;
  const handle = async (event: TorchEvent) => {
    if (event.type === "step") {
      const points = [{ name: "lr", step: event.step, value: event.lr }];
      if (Number.isFinite(event.loss)) points.push({ name: "loss", step: event.step, value: event.loss });
      if (event.valLoss !== undefined && Number.isFinite(event.valLoss)) points.push({ name: "val_loss", step: event.step, value: event.valLoss });
      if (previous && event.elapsedMs > previous.elapsedMs) points.push({ name: "tokens_per_s", step: event.step, value: ((event.tokens - previous.tokens) * 1000) / (event.elapsedMs - previous.elapsedMs) });
      previous = { elapsedMs: event.elapsedMs, tokens: event.tokens };
      metrics.push(points);
      active.step = event.step;
      lastLoss = event.loss;
      if (event.valLoss !== undefined) lastVal = event.valLoss;
      env.log(`run ${job.runId}: step ${event.step}/${spec.steps} loss ${event.loss.toFixed(4)}`);
    } else if (event.type === "checkpoint") {
      const bytes = fs.readFileSync(event.path);
      await metrics.flush();
      await reliably(jobEnv, active, `uploading the checkpoint of step ${event.step}`, () => env.api.call("PUT", runPath(job, `checkpoints/${event.step}`), { body: bytes }));
      fs.rmSync(event.path, { force: true });
      env.log(`run ${job.runId}: checkpoint of step ${event.step} stored (${bytes.length} bytes)`);
    } else if (event.type === "start") {
      started = true;
      env.log(`run ${job.runId}: torch engine training on ${event.device}${event.processes > 1 ? ` (${event.processes} processes)` : ""}, ${event.dtype}, ${event.trainable} trainable parameters`);
    } else if (event.type === "done") {
      done = event;
      // The result is written; a process that then does not exit (a hung teardown) is ended after a minute.
      doneTimer = setTimeout(() => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        endedAfterDone = true;
        env.log(`run ${job.runId}: the torch process finished its work but did not exit; stopping it`);
        killGroup();
      }, DONE_EXIT_MS);
    }
    else if (event.type === "error") reported = { message: event.message, retryable: event.retryable !== false };
  };
  readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    lastLineAt = Date.now();
    let event: TorchEvent;
    try {
      event = JSON.parse(line);
    } catch {
      env.log(`run ${job.runId}: torch: ${line}`);
      return;
    }
    handling = handling.then(() => (handlingError ? undefined : handle(event))).catch((error: unknown) => {
      handlingError ??= error;
      killGroup();
    });
  });

  try {
    const ended = await Promise.race([exited, spawnError.then((error) => ({ error }))]);
    if ("error" in ended) throw new JobFailure(`cannot start the torch engine's Python (${env.torch.python}): ${ended.error.message}`, true);
    await handling;
    if (active.stopped) return { status: "stopped", reason: active.stopReason! };
    if (handlingError) throw handlingError;
    if (stalled) throw new JobFailure(`The torch process made no progress for ${stallMs / 1000} s (HEARTH_TORCH_STALL_SECONDS) and was stopped.${stderr.length ? ` Its last output:\n${stderr.slice(-8).join("\n")}` : ""}`, true);
    const r = reported as { message: string; retryable: boolean } | null;
    if (r) throw new JobFailure(`${r.message}${r.retryable && stderr.length ? `\n${stderr.slice(-8).join("\n")}` : ""}`, r.retryable);
    const finished = done as Extract<TorchEvent, { type: "done" }> | null;
    // Another node of a gang: its processes print nothing (rank 0 reports); a clean exit is its part done.
    if (secondary && ended.code === 0) return { status: "succeeded", detail: `node rank ${gang.nodeRank} of ${gang.nodes}` };
    if ((ended.code !== 0 && !endedAfterDone) || !finished) {
      const how = ended.signal ? `was killed by ${ended.signal}` : `exited with status ${ended.code}`;
      throw new JobFailure(`The torch process ${how}${finished ? "" : " before it finished"}.${stderr.length ? ` Its last output:\n${stderr.join("\n")}` : ""}`, true);
    }
    await metrics.flush();
    const artifact = writeTar(readFolderFiles(finished.path));
    const stored = await reliably(jobEnv, active, "uploading the model", () => env.api.call<{ sha256: string; sizeBytes: number }>("PUT", runPath(job, "artifact"), { body: artifact }));
    const config = parseHFConfig(JSON.parse(fs.readFileSync(path.join(finished.path, "config.json"), "utf8")));
    const completed = await reliably(jobEnv, active, "registering the model version", () =>
      env.api.call<{ modelVersionId: string }>("POST", runPath(job, "complete"), {
        json: {
          artifactSha256: stored.sha256,
          sizeBytes: stored.sizeBytes,
          modelConfig: { ...config, parameters: finished.parameters },
          summary: { steps: finished.steps, finalLoss: finished.finalLoss ?? lastLoss, finalValLoss: lastVal, resumedFromStep: job.checkpoint?.step ?? null, attempt: job.attempt, engine: "torch" },
        },
      }),
    );
    return { status: "succeeded", detail: `model version ${completed.modelVersionId}` };
  } catch (error) {
    if (active.stopped) return { status: "stopped", reason: active.stopReason! };
    throw error;
  } finally {
    killGroup();
    // torchrun killed alone (kill -9) leaves its workers in the group: they go too.
    if (child.pid) {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }
    clearTimeout(killTimer);
    clearInterval(watchdog);
    clearTimeout(doneTimer);
    metrics.close();
  }
}
