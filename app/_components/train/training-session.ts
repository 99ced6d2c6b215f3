"use client";
// One browser training run from start (or resume) to its model version: downloads the data, trains
// in a Web Worker, records the run's metrics in Hearth once a second (idempotent, so points resent
// after a reload are harmless), keeps checkpoints in IndexedDB, uploads the final checkpoint with its
// lineage and closes the run. The page renders `view`; nothing here blocks the page.
import type { useTRPCClient } from "@/app/_lib/trpc";
import { appendPoints, type MetricPoint, type MetricSeries } from "@/app/_components/MetricsChart";
import { forgetJob, loadCheckpoint, saveJob, type StoredJob, type TrainingOutcome } from "./browser-store";
import { describeError, type TrainWorkerEvent, type TrainWorkerRequest } from "./protocol";
import { datasetVersionUrl, fetchBytes, modelArtifactUrl, uploadModelVersion, type UploadedModelVersion } from "./transfer";

type Client = ReturnType<typeof useTRPCClient>;

export type TrainingStage =
  | "downloading"
  | "starting"
  | "preparing"
  | "tokenizing"
  | "training"
  | "saving"
  | "uploading"
  | "upload-failed"
  | "succeeded"
  | "cancelled"
  | "failed"
  | "elsewhere";

export interface TrainingView {
  runId: string;
  modelId: string;
  totalSteps: number;
  stage: TrainingStage;
  paused: boolean;
  cancelling: boolean;
  adapter: string | null;
  step: number;
  /** The step of the checkpoint this session resumed from (null: started from the beginning). */
  resumedFromStep: number | null;
  loss: number | null;
  valLoss: number | null;
  tokensPerSecond: number | null;
  etaMs: number | null;
  checkpointStep: number | null;
  /** Metric points not yet accepted by the server. */
  unsentPoints: number;
  syncError: string | null;
  error: string | null;
  modelVersion: UploadedModelVersion | null;
  /** A Hugging Face model's memory plan against the peak the job measured (set when it finishes). */
  memory: { plannedBytes: number; peakBytes: number } | null;
  /** loss and val_loss by step, for the chart; bump seriesVersion on change. */
  series: Map<string, MetricSeries>;
  seriesVersion: number;
}

/** Terminal for this page: nothing more will happen unless the person acts. */
export const FINISHED_STAGES: TrainingStage[] = ["succeeded", "cancelled", "failed", "elsewhere", "upload-failed"];

const FLUSH_EVERY_MS = 1000;
const MAX_POINTS_PER_CALL = 5000;
const RATE_WINDOW = 20;
const UPLOAD_ATTEMPTS = 3;
/** Points per beacon: beacons are limited to about 64 KiB. */
const BEACON_POINTS = 500;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class TrainingSession {
  private view: TrainingView;
  private readonly listeners = new Set<() => void>();
  private worker: Worker | null = null;
  private pending: MetricPoint[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | null = null;
  /** Recent (time, step, session tokens) samples while running, for tokens/s and the ETA. */
  private samples: Array<{ t: number; step: number; tokens: number }> = [];
  private tokensPerStep = 0;
  private disposed = false;
  /** Set when the run was ended in Hearth by someone else: this page no longer records it. */
  private runEndedAs: string | null = null;
  /** Rejects the training in progress (when the page goes away, so the run's lock is released). */
  private stopTraining: ((reason: Error) => void) | null = null;

  constructor(
    private readonly client: Client,
    private job: StoredJob,
  ) {
    this.view = {
      runId: job.runId,
      modelId: job.modelId,
      totalSteps: job.spec.steps,
      stage: "downloading",
      paused: false,
      cancelling: false,
      adapter: null,
      step: 0,
      resumedFromStep: null,
      loss: null,
      valLoss: null,
      tokensPerSecond: null,
      etaMs: null,
      checkpointStep: null,
      unsentPoints: 0,
      syncError: null,
      error: null,
      modelVersion: null,
      memory: job.result?.memory ?? null,
      series: new Map(),
      seriesVersion: 0,
    };
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  getView = () => this.view;

  get hasParent(): boolean {
    return !!this.job.parentVersionId;
  }

  private update(patch: Partial<TrainingView>) {
    if (this.disposed) return;
    this.view = { ...this.view, ...patch };
    for (const listener of this.listeners) listener();
  }

  /** Runs the job to its end. Only one tab of a browser drives a given run (Web Locks, where available). */
  async run(): Promise<void> {
    const onUnload = () => this.sendPendingOnUnload();
    window.addEventListener("pagehide", onUnload);
    try {
      await this.runLocked();
    } finally {
      window.removeEventListener("pagehide", onUnload);
    }
  }

  private async runLocked(): Promise<void> {
    const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
    if (!locks) return this.drive();
    await locks.request(`hearth-train:${this.job.runId}`, { ifAvailable: true }, async (lock) => {
      if (!lock) return this.update({ stage: "elsewhere" });
      await this.drive();
    });
  }

  pause() {
    this.post({ type: "pause" });
    this.samples = [];
    this.update({ paused: true, tokensPerSecond: null, etaMs: null });
  }

  resume() {
    this.post({ type: "resume" });
    this.update({ paused: false });
  }

  cancel() {
    this.post({ type: "cancel" });
    this.update({ cancelling: true, paused: false });
  }

  /**
   * The page is being unloaded (reload, tab closed): hand the waiting metric points to the browser to
   * deliver (sendBeacon outlives the page); the job and its checkpoint stay for the next visit.
   */
  sendPendingOnUnload() {
    for (let i = 0; i < this.pending.length; i += BEACON_POINTS) {
      const body = JSON.stringify({ json: { runId: this.job.runId, points: this.pending.slice(i, i + BEACON_POINTS) } });
      navigator.sendBeacon("/api/trpc/run.logMetrics", new Blob([body], { type: "application/json" }));
    }
  }

  /** The page went away: stop the worker, keep the job (and its checkpoint) to resume later. */
  dispose() {
    this.disposed = true;
    this.stopTraining?.(new Error("The page was closed."));
    this.worker?.terminate();
    this.worker = null;
    if (this.timer) clearInterval(this.timer);
  }

  private post(request: TrainWorkerRequest, transfer: Transferable[] = []) {
    this.worker?.postMessage(request, transfer);
  }

  private async drive(): Promise<void> {
    this.timer = setInterval(() => void this.flush(), FLUSH_EVERY_MS);
    try {
      if (!this.job.artifact) {
        const outcome = await this.train();
        if (outcome === "cancelled") {
          if (!this.runEndedAs) {
            await this.flush();
            await this.client.run.transition.mutate({ runId: this.job.runId, status: "CANCELLED" });
          }
          await forgetJob(this.job.runId);
          return this.update({ stage: "cancelled", cancelling: false });
        }
        this.job = { ...this.job, ...outcome };
        // The finished checkpoint outlives a reload until Hearth has it.
        await saveJob(this.job);
      }
      await this.flush();
      await this.register();
    } catch (error) {
      if (this.disposed) return;
      const message = describeError(error);
      await this.flush();
      await this.client.run.transition.mutate({ runId: this.job.runId, status: "FAILED", error: message.slice(0, 4000) }).catch(() => undefined);
      await forgetJob(this.job.runId).catch(() => undefined);
      this.update({ stage: "failed", error: message });
    } finally {
      if (this.timer) clearInterval(this.timer);
      this.worker?.terminate();
      this.worker = null;
    }
  }

  /** Uploads the final checkpoint and closes the run; retried, and kept for later when Hearth is unreachable. */
  private async register(): Promise<void> {
    const { artifact, result } = this.job;
    let lastError: unknown = null;
    for (let attempt = 0; attempt < UPLOAD_ATTEMPTS; attempt++) {
      if (attempt > 0) await sleep(1000 * 2 ** attempt);
      try {
        this.update({ stage: "uploading", error: null });
        const version = await uploadModelVersion(this.job.modelId, artifact!, { runId: this.job.runId, datasetVersionId: this.job.datasetVersionId, parentVersionId: this.job.parentVersionId });
        await this.client.run.transition.mutate({
          runId: this.job.runId,
          status: "SUCCEEDED",
          summary: { ...result, modelVersionId: version.id, modelVersion: version.version, sizeBytes: version.sizeBytes },
        });
        await forgetJob(this.job.runId);
        return this.update({ stage: "succeeded", modelVersion: version });
      } catch (error) {
        lastError = error;
      }
    }
    this.update({ stage: "upload-failed", error: `${describeError(lastError)} The trained model is kept in this browser: retry, or reload the page later.` });
  }

  /** Retries the upload after "upload-failed". */
  async retryUpload(): Promise<void> {
    await this.register();
  }

  private async train(): Promise<"cancelled" | { artifact: Uint8Array; result: TrainingOutcome }> {
    const { job } = this;
    this.update({ stage: "downloading" });
    const dataset = await fetchBytes(datasetVersionUrl(job.datasetVersionId), "Downloading the dataset");
    const parent = job.parentVersionId ? await fetchBytes(modelArtifactUrl(job.parentVersionId), "Downloading the parent model") : undefined;
    const checkpoint = await loadCheckpoint(job.runId).catch(() => undefined);
    if (checkpoint) {
      this.update({ resumedFromStep: checkpoint.step, checkpointStep: checkpoint.step, step: checkpoint.step });
      await this.loadRecordedMetrics();
    }
    if (this.disposed) throw new Error("The page was closed.");
    this.update({ stage: "starting" });
    const worker = new Worker(new URL("./train.worker.ts", import.meta.url), { type: "module", name: "hearth-train" });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      this.stopTraining = reject;
      worker.onerror = (event) => reject(new Error(`The training worker stopped: ${event.message || "it could not be loaded"}.`));
      worker.onmessage = (event: MessageEvent<TrainWorkerEvent>) => {
        const e = event.data;
        if (e.type === "gpu") this.update({ adapter: e.adapter });
        else if (e.type === "phase") this.update({ stage: e.phase as TrainingStage });
        else if (e.type === "step") this.onStep(e.metrics);
        else if (e.type === "checkpoint") {
          // Everything up to a checkpoint goes to Hearth now: a resume restarts after it and never recomputes those steps.
          this.update({ checkpointStep: e.step });
          void this.flush();
        }
        else if (e.type === "error") reject(new Error(e.message));
        else if (e.type === "done") {
          if (e.status === "cancelled" || !e.artifact) return resolve("cancelled");
          if (e.memory) this.update({ memory: e.memory });
          const lastLoss = e.losses.at(-1)?.loss ?? this.view.loss;
          const lastVal = e.valLosses.at(-1)?.loss ?? this.view.valLoss;
          resolve({
            artifact: e.artifact,
            result: { steps: e.steps, tokens: e.steps * this.tokensPerStep, parameters: e.parameters, finalLoss: lastLoss ?? null, finalValLoss: lastVal ?? null, tokensPerSecond: this.view.tokensPerSecond, sha256: e.sha256 ?? "", ...(e.memory ? { memory: e.memory } : {}) },
          });
        }
      };
      const transfer = [dataset.buffer, ...(parent ? [parent.buffer] : []), ...(checkpoint ? [checkpoint.bytes.buffer] : [])] as ArrayBuffer[];
      this.post({ type: "start", runId: job.runId, spec: job.spec, dataset, parent, resume: checkpoint?.bytes }, transfer);
    });
  }

  /** After a reload: the chart starts from what Hearth already recorded. */
  private async loadRecordedMetrics() {
    try {
      const rows = await this.client.run.metrics.query({ runId: this.job.runId, names: ["loss", "val_loss"] });
      const series = new Map<string, MetricSeries>();
      for (const row of rows) series.set(row.name, { name: row.name, steps: row.steps.map(Number), values: row.values.map(Number) });
      this.update({ series, seriesVersion: this.view.seriesVersion + 1 });
    } catch {
      // The chart then shows this session's points only.
    }
  }

  private onStep(m: { step: number; lr: number; loss?: number; valLoss?: number; tokens: number }) {
    const now = performance.now();
    // StepMetrics.tokens counts this session's tokens, from the step it resumed at.
    const stepsThisSession = m.step - (this.view.resumedFromStep ?? 0);
    if (stepsThisSession > 0) this.tokensPerStep = m.tokens / stepsThisSession;
    this.samples.push({ t: now, step: m.step, tokens: m.tokens });
    if (this.samples.length > RATE_WINDOW) this.samples.shift();
    let tokensPerSecond = this.view.tokensPerSecond;
    let etaMs = this.view.etaMs;
    const first = this.samples[0];
    if (this.samples.length >= 2 && now > first.t) {
      tokensPerSecond = ((m.tokens - first.tokens) / (now - first.t)) * 1000;
      etaMs = ((this.job.spec.steps - m.step) * (now - first.t)) / (m.step - first.step);
    }
    const points: MetricPoint[] = [{ name: "lr", step: m.step, value: m.lr }];
    const chart: MetricPoint[] = [];
    if (m.loss !== undefined && Number.isFinite(m.loss)) chart.push({ name: "loss", step: m.step, value: m.loss });
    if (m.valLoss !== undefined && Number.isFinite(m.valLoss)) chart.push({ name: "val_loss", step: m.step, value: m.valLoss });
    if (m.loss !== undefined && tokensPerSecond !== null) points.push({ name: "tokens_per_s", step: m.step, value: tokensPerSecond });
    points.push(...chart);
    this.pending.push(...points);
    if (chart.length) appendPoints(this.view.series, chart);
    this.update({
      step: m.step,
      loss: m.loss ?? this.view.loss,
      valLoss: m.valLoss ?? this.view.valLoss,
      tokensPerSecond,
      etaMs,
      unsentPoints: this.pending.length,
      seriesVersion: this.view.seriesVersion + (chart.length ? 1 : 0),
    });
  }

  /** The run was ended in Hearth meanwhile (e.g. cancelled through the API): stop training, keep nothing. */
  private async endedElsewhere() {
    const run = await this.client.run.get.query({ runId: this.job.runId }).catch(() => null);
    if (!run || run.status === "RUNNING") return;
    this.pending = [];
    this.runEndedAs = run.status;
    this.post({ type: "cancel" });
    this.update({ cancelling: true, error: `The run was ended in Hearth (it is ${run.status}); training stopped.` });
  }

  /** Sends the waiting metric points, one call at a time; failures keep them for the next tick. */
  private flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      while (this.pending.length) {
        const batch = this.pending.slice(0, MAX_POINTS_PER_CALL);
        try {
          await this.client.run.logMetrics.mutate({ runId: this.job.runId, points: batch });
        } catch (error) {
          if ((error as { data?: { code?: string } }).data?.code === "PRECONDITION_FAILED") return this.endedElsewhere();
          return this.update({ syncError: `Metrics are not reaching Hearth (${describeError(error)}); retrying.` });
        }
        this.pending.splice(0, batch.length);
        this.update({ unsentPoints: this.pending.length, syncError: null });
      }
    });
    return this.flushing;
  }
}
