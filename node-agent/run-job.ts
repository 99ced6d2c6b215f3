// Running one leased job on the node: a training run (runTrainJob, resumed from the run's latest
// checkpoint) or an eval run (gpu/eval runner on a model loaded by the run's engine: loadTextModel, a
// Hearth checkpoint or a Hugging Face folder archive, on webgpu; loadTorchTextModel on torch). Whatever the server must not lose (metrics,
// checkpoints, results, the final model) is retried until it is stored or the job is taken away;
// metrics up to a step are stored before that step's checkpoint, so a node resuming from the
// checkpoint neither loses nor repeats any.
import type { GpuContext } from "@/gpu/device";
import type { LoadedModelCache } from "./model-cache";
import { runTrainJob, validateTrainJobSpec } from "@/gpu/train/job";
import { TrainControl, type StepMetrics } from "@/gpu/train";
import { runEval, textEvalModel, type RunnerCaseResult } from "@/gpu/eval/runner";
import { loadTextModel, NoTokenizerError, type TextModel } from "@/gpu/nn/text-model";
import { HfTokenizerError } from "@/gpu/tokenizer/hf-tokenizer";
import type { EvalCase } from "@/gpu/eval";
import type { LeasedJob } from "@/contracts/node-protocol";
import { JobCancelled, LeaseLost, withRetry, type NodeApiClient } from "./client";

export type StopReason = "cancelled" | "lost" | "shutdown";

/** A job the node is working on, and how it is told to stop. */
export class ActiveJob {
  readonly control = new TrainControl();
  stopReason: StopReason | null = null;
  step = 0;

  private readonly stopHooks: Array<() => void> = [];

  constructor(readonly job: LeasedJob) {}

  stop(reason: StopReason): void {
    this.stopReason ??= reason;
    this.control.cancel();
    for (const hook of this.stopHooks) hook();
  }

  /** Runs `hook` when the job is told to stop (at once if it already was): the torch engine kills its process. */
  onStop(hook: () => void): void {
    this.stopHooks.push(hook);
    if (this.stopped) hook();
  }

  get stopped(): boolean {
    return this.stopReason !== null;
  }
}

/** A job that failed on this attempt; `retryable: false` when another attempt cannot do better. */
export class JobFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

export interface JobEnv {
  api: NodeApiClient;
  ctx: GpuContext;
  log: (line: string) => void;
  /** The last model evaluated stays loaded (capacity 1): suite after suite against one version skips the reload. */
  evalModel: LoadedModelCache<TextModel>;
}

/** The engine an eval runs on: how it loads a model version's artifact, and how many cases it runs at once. */
export interface EvalEngine {
  name: "webgpu" | "torch";
  load(artifact: Uint8Array): Promise<TextModel>;
  /** Cases in flight at once: the torch engine batches them; the WebGPU engine runs one at a time. */
  concurrency: number;
}

/** The WebGPU engine for evals: Hearth checkpoints and folder archives on the jobs' device. */
export const webgpuEvalEngine = (ctx: GpuContext): EvalEngine => ({ name: "webgpu", load: (bytes) => loadTextModel(ctx, bytes), concurrency: 1 });

export type JobOutcome = { status: "succeeded"; detail: string } | { status: "stopped"; reason: StopReason };

export const runPath = (job: LeasedJob, rest: string) => `runs/${encodeURIComponent(job.runId)}/${rest}`;

/** Calls the server until it answers, unless the job is stopped meanwhile; a lost lease stops the job. */
export async function reliably<T>(env: Pick<JobEnv, "api" | "log">, active: ActiveJob, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await withRetry(fn, {
      stopped: () => active.stopped,
      onRetry: (error, delay) => env.log(`${what}: ${error.message}; retrying in ${(delay / 1000).toFixed(1)} s`),
    });
  } catch (error) {
    if (error instanceof LeaseLost) active.stop("lost");
    if (error instanceof JobCancelled) active.stop("cancelled");
    throw error;
  }
}

/** Metric points buffered and sent about once a second; flush() when they must be stored. */
export class MetricSender {
  private buffer: Array<{ name: string; step: number; value: number }> = [];
  private sending: Promise<void> | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly env: Pick<JobEnv, "api" | "log">,
    private readonly active: ActiveJob,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => {}), 1000);
  }

  push(points: Array<{ name: string; step: number; value: number }>): void {
    this.buffer.push(...points);
  }

  async flush(): Promise<void> {
    while (this.sending) await this.sending;
    if (!this.buffer.length) return;
    const points = this.buffer.splice(0, 10_000);
    this.sending = reliably(this.env, this.active, "sending metrics", () => this.env.api.call("POST", runPath(this.active.job, "metrics"), { json: { points } })).then(
      () => {
        this.sending = null;
      },
      (error: unknown) => {
        this.buffer.unshift(...points);
        this.sending = null;
        throw error;
      },
    );
    await this.sending;
    if (this.buffer.length) await this.flush();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

function stepPoints(m: StepMetrics, previous: { elapsedMs: number; tokens: number } | null) {
  const points = [{ name: "lr", step: m.step, value: m.lr }];
  if (m.loss !== undefined && Number.isFinite(m.loss)) points.push({ name: "loss", step: m.step, value: m.loss });
  if (m.valLoss !== undefined && Number.isFinite(m.valLoss)) points.push({ name: "val_loss", step: m.step, value: m.valLoss });
  // This step's throughput (the counters are totals since the start of this attempt's loop).
  if (previous && m.elapsedMs > previous.elapsedMs) points.push({ name: "tokens_per_s", step: m.step, value: ((m.tokens - previous.tokens) * 1000) / (m.elapsedMs - previous.elapsedMs) });
  return points;
}

export async function runTraining(env: JobEnv, active: ActiveJob): Promise<JobOutcome> {
  const { job, control } = active;
  let spec;
  try {
    spec = validateTrainJobSpec({ ...job.config, kind: job.kind });
  } catch (error) {
    throw new JobFailure(`Invalid training config: ${(error as Error).message}`, false);
  }
  const fetchBytes = (what: string, path: string) => reliably(env, active, `downloading the ${what}`, () => env.api.bytes(runPath(job, path)));
  const dataset = await fetchBytes("dataset", "dataset");
  const parent = job.modelVersionId ? await fetchBytes("parent model", "model") : undefined;
  const resume = job.checkpoint ? await fetchBytes(`checkpoint of step ${job.checkpoint.step}`, `checkpoints/${job.checkpoint.step}`) : undefined;
  if (job.checkpoint) env.log(`run ${job.runId}: resuming from the checkpoint of step ${job.checkpoint.step}`);

  const metrics = new MetricSender(env, active);
  let previous: { elapsedMs: number; tokens: number } | null = null;
  try {
    const result = await runTrainJob(env.ctx, spec, { dataset, parent, resume }, {
      control,
      onPhase: (phase) => env.log(`run ${job.runId}: ${phase}`),
      onStep: (m) => {
        metrics.push(stepPoints(m, previous));
        previous = { elapsedMs: m.elapsedMs, tokens: m.tokens };
        active.step = m.step;
        if (m.loss !== undefined) env.log(`run ${job.runId}: step ${m.step}/${spec.steps} loss ${m.loss.toFixed(4)}`);
      },
      onCheckpoint: async (step, bytes) => {
        // Metrics first: a node resuming from this checkpoint re-sends only the steps after it.
        await metrics.flush();
        await reliably(env, active, `uploading the checkpoint of step ${step}`, () => env.api.call("PUT", runPath(job, `checkpoints/${step}`), { body: bytes }));
        env.log(`run ${job.runId}: checkpoint of step ${step} stored (${bytes.length} bytes)`);
      },
    });
    if (result.status === "cancelled" || active.stopped) return { status: "stopped", reason: active.stopReason ?? "cancelled" };
    await metrics.flush();
    const artifact = result.artifact!;
    const stored = await reliably(env, active, "uploading the model", () => env.api.call<{ sha256: string; sizeBytes: number }>("PUT", runPath(job, "artifact"), { body: artifact }));
    const last = result.losses.at(-1);
    const lastVal = result.valLosses.at(-1);
    const done = await reliably(env, active, "registering the model version", () =>
      env.api.call<{ modelVersionId: string }>("POST", runPath(job, "complete"), {
        json: {
          artifactSha256: stored.sha256,
          sizeBytes: stored.sizeBytes,
          modelConfig: { ...result.config, parameters: result.parameters },
          summary: { steps: result.steps, finalLoss: last?.loss ?? null, finalValLoss: lastVal?.loss ?? null, resumedFromStep: job.checkpoint?.step ?? null, attempt: job.attempt },
        },
      }),
    );
    return { status: "succeeded", detail: `model version ${done.modelVersionId}` };
  } catch (error) {
    if (active.stopped) return { status: "stopped", reason: active.stopReason! };
    throw error;
  } finally {
    metrics.close();
  }
}

export async function runEvaluation(env: Omit<JobEnv, "ctx">, active: ActiveJob, engine: EvalEngine): Promise<JobOutcome> {
  const { job } = active;
  const config = job.config as { maxTokens?: unknown; temperature?: unknown; topK?: unknown; seed?: unknown; stop?: unknown };
  const { cases } = await reliably(env, active, "downloading the cases", () => env.api.call<{ cases: EvalCase[] }>("GET", runPath(job, "cases")));
  if (!job.modelVersionId) throw new JobFailure("The eval run names no model version to evaluate.", false);
  const loaded = await env.evalModel
    .get(`${engine.name}:${job.modelVersionId}`, async () => engine.load(await reliably(env, active, "downloading the model", () => env.api.bytes(runPath(job, "model")))))
    .catch((error: unknown) => {
      // Another attempt would read the same bytes: a model without a tokenizer fails for good.
      if (error instanceof NoTokenizerError) throw new JobFailure("The model version's checkpoint has no tokenizer, so it cannot be evaluated.", false);
      if (error instanceof HfTokenizerError) throw new JobFailure(`The model version's tokenizer cannot be read: ${error.message}`, false);
      throw error;
    });
  try {
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    const model = textEvalModel(loaded, {
      maxNewTokens: Math.max(1, Math.min(num(config.maxTokens) ?? 64, 4096)),
      temperature: num(config.temperature),
      topK: num(config.topK),
      seed: num(config.seed),
      stop: Array.isArray(config.stop) && config.stop.every((s) => typeof s === "string") ? (config.stop as string[]) : undefined,
    });
    const done = new Set(job.doneCaseIds);
    const todo = cases.filter((c) => !done.has(c.id));
    if (done.size) env.log(`run ${job.runId}: ${done.size} of ${cases.length} cases already have results; running the other ${todo.length}`);
    let pending: RunnerCaseResult[] = [];
    let sending: Promise<unknown> = Promise.resolve();
    const send = (batch: RunnerCaseResult[]) => {
      const results = batch.map((r) => ({ caseId: r.caseId, output: r.output, grades: r.graders, score: r.score, pass: r.pass }));
      sending = sending.then(() => reliably(env, active, "sending results", () => env.api.call("POST", runPath(job, "results"), { json: { results } })));
    };
    const summary = await runEval(todo, model, {
      concurrency: engine.concurrency,
      signal: { get aborted() { return active.stopped; } },
      onCase: (r, i) => {
        pending.push(r);
        active.step = done.size + i + 1;
        if (pending.length >= 20) {
          send(pending);
          pending = [];
        }
      },
    });
    if (pending.length) send(pending);
    await sending;
    if (summary.cancelled || active.stopped) return { status: "stopped", reason: active.stopReason ?? "cancelled" };
    await reliably(env, active, "finishing the run", () => env.api.call("POST", runPath(job, "complete"), { json: {} }));
    return { status: "succeeded", detail: `${todo.length} cases graded, pass rate ${(summary.passRate * 100).toFixed(1)}% over them` };
  } catch (error) {
    if (active.stopped) return { status: "stopped", reason: active.stopReason! };
    throw error;
  }
}
