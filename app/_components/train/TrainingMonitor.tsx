"use client";
// A training run in progress in this browser: progress, loss chart, speed, ETA; pause, resume, cancel;
// and, at the end, the model version it produced.
import Link from "next/link";
import { formatBytes } from "./gpu-support";
import { useSyncExternalStore } from "react";
import { Section } from "@/app/_components/records";
import { MetricsChart } from "@/app/_components/MetricsChart";
import { FINISHED_STAGES, type TrainingSession, type TrainingView } from "./training-session";

const STAGE_LABEL: Record<TrainingView["stage"], string> = {
  downloading: "Downloading the data",
  starting: "Starting the GPU",
  preparing: "Preparing",
  tokenizing: "Tokenizing",
  training: "Training",
  saving: "Saving the model",
  uploading: "Uploading the model to Hearth",
  "upload-failed": "Upload failed",
  succeeded: "Finished",
  cancelled: "Cancelled",
  failed: "Failed",
  elsewhere: "Training in another tab",
};

export function useTrainingView(session: TrainingSession): TrainingView {
  return useSyncExternalStore(session.subscribe, session.getView, session.getView);
}

export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "—";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function TrainingMonitor({ session, orgId, projectId, onEvaluate, onDone }: { session: TrainingSession; orgId: string; projectId: string; onEvaluate: (modelVersionId: string) => void; onDone: () => void }) {
  const v = useTrainingView(session);
  const base = `/orgs/${orgId}/projects/${projectId}`;
  const finished = FINISHED_STAGES.includes(v.stage);
  const active = !finished && v.stage !== "uploading";
  const label = v.cancelling && !finished ? "Cancelling…" : v.paused ? "Paused" : STAGE_LABEL[v.stage];
  const badge = v.stage === "succeeded" ? "badge-ok" : v.stage === "failed" || v.stage === "upload-failed" ? "badge-danger" : v.stage === "cancelled" ? "" : v.paused ? "badge-warn" : "badge-running";
  return (
    <Section
      title="Training on this device"
      actions={
        <div className="row">
          <span className={`badge ${badge}`} data-testid="train-stage">
            {label}
          </span>
          <Link href={`${base}/runs/${v.runId}`} className="mono hint">
            run {v.runId.slice(0, 10)}
          </Link>
        </div>
      }
    >
      {v.resumedFromStep !== null && !finished ? (
        <div className="alert alert-info" data-testid="resumed-notice">
          Resumed from the checkpoint at step {v.resumedFromStep}, kept in this browser.
        </div>
      ) : null}
      {v.stage === "elsewhere" ? <div className="alert alert-info">This run is training in another tab of this browser; follow it there or on its run page.</div> : null}
      {v.error ? (
        <div className="alert alert-error" role="alert">
          {v.error}
        </div>
      ) : null}
      <progress max={v.totalSteps} value={v.step} style={{ width: "100%" }} aria-label="Training progress" data-testid="train-progress" />
      <div className="stats" data-testid="train-stats">
        <div className="stat">
          <b data-testid="train-step">
            {v.step}/{v.totalSteps}
          </b>
          <span>steps</span>
        </div>
        <div className="stat">
          <b data-testid="train-loss">{v.loss === null ? "—" : v.loss.toFixed(4)}</b>
          <span>loss</span>
        </div>
        <div className="stat">
          <b>{v.valLoss === null ? "—" : v.valLoss.toFixed(4)}</b>
          <span>validation loss</span>
        </div>
        <div className="stat">
          <b data-testid="train-speed">{v.tokensPerSecond === null ? "—" : Math.round(v.tokensPerSecond).toLocaleString()}</b>
          <span>tokens / s</span>
        </div>
        <div className="stat">
          <b>{active && !v.paused ? formatDuration(v.etaMs) : "—"}</b>
          <span>time left</span>
        </div>
        <div className="stat">
          <b data-testid="train-checkpoint">{v.checkpointStep ?? "—"}</b>
          <span>last checkpoint</span>
        </div>
      </div>
      <p className="hint">
        {v.adapter ? `GPU: ${v.adapter}. ` : ""}
        {v.unsentPoints ? `${v.unsentPoints} metric points waiting to be sent. ` : "Metrics recorded in Hearth. "}
        {v.syncError ?? ""}
      </p>
      <MetricsChart series={v.series} version={v.seriesVersion} />
      <div className="row" style={{ marginTop: "1rem" }}>
        {active ? (
          <>
            {v.paused ? (
              <button className="btn btn-primary" onClick={() => session.resume()} disabled={v.cancelling}>
                Resume
              </button>
            ) : (
              <button className="btn" onClick={() => session.pause()} disabled={v.cancelling || v.stage !== "training"}>
                Pause
              </button>
            )}
            <button
              className="btn btn-danger"
              disabled={v.cancelling}
              onClick={() => {
                if (window.confirm("Cancel this training run? The progress is discarded.")) session.cancel();
              }}
            >
              Cancel
            </button>
          </>
        ) : null}
        {v.stage === "upload-failed" ? (
          <button className="btn btn-primary" onClick={() => void session.retryUpload()}>
            Retry the upload
          </button>
        ) : null}
        {v.stage === "succeeded" && v.modelVersion ? (
          <div className="alert alert-ok" data-testid="trained-version" style={{ margin: 0 }}>
            Model version{" "}
            <Link href={`${base}/models/${v.modelVersion.modelId}`}>
              <b>v{v.modelVersion.version}</b>
            </Link>{" "}
            is in Hearth, with its lineage (dataset version{session.hasParent ? ", parent version" : ""} and this run).{" "}
            <button className="btn btn-small" onClick={() => onEvaluate(v.modelVersion!.id)}>
              Evaluate it
            </button>
          </div>
        ) : null}
        {v.memory ? (
          <p className="hint" data-testid="train-memory" style={{ margin: 0 }}>
            GPU memory: planned {formatBytes(v.memory.plannedBytes)}, measured peak {formatBytes(v.memory.peakBytes)} ({v.memory.plannedBytes >= v.memory.peakBytes ? "+" : ""}
            {(((v.memory.plannedBytes - v.memory.peakBytes) / v.memory.peakBytes) * 100).toFixed(1)}% plan vs measured)
          </p>
        ) : null}
        {finished && v.stage !== "upload-failed" ? (
          <button className="btn" onClick={onDone}>
            Set up another run
          </button>
        ) : null}
      </div>
    </Section>
  );
}
