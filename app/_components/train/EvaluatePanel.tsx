"use client";
// "Evaluate": runs a published suite version against a model version in this browser (a Web Worker
// with the shared eval runner) and records an EVAL run with every case's output and grades; or asks the
// server to run it (target SERVER: small folder models on its CPU, with a judge endpoint for rubric cases).
import Link from "next/link";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useTRPC, useTRPCClient } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";
import { percent, Section } from "@/app/_components/records";
import { ModelVersionPicker, SuiteVersionPicker, type PickedModelVersion } from "@/app/_components/pickers";
import { parseHearthJsonl } from "@/gpu/eval";
import type { RunnerCaseResult } from "@/gpu/eval/runner";
import { describeError, type EvalWorkerEvent, type EvalWorkerRequest } from "./protocol";
import { fetchBytes, modelArtifactUrl } from "./transfer";

type Client = ReturnType<typeof useTRPCClient>;
type RecordedResult = { caseId: string; output: string; grades: { grader: string; score: number; pass: boolean; reason: string }[]; score: number; pass: boolean };

export interface EvalProgress {
  stage: "loading" | "running" | "saving" | "succeeded" | "cancelled" | "failed";
  runId: string | null;
  total: number;
  done: number;
  passed: number;
  error: string | null;
  summary: { passRate?: number; meanScore?: number } | null;
}

const FLUSH_EVERY_MS = 1000;
const MAX_RESULTS_PER_CALL = 500;

function toRecord(r: RunnerCaseResult): RecordedResult {
  return {
    caseId: r.caseId,
    output: r.output.slice(0, 200_000),
    grades: r.graders.slice(0, 50).map((g) => ({ grader: g.grader.slice(0, 100), score: Math.min(1, Math.max(0, g.score)), pass: g.pass, reason: g.reason.slice(0, 4000) })),
    score: Math.min(1, Math.max(0, r.score)),
    pass: r.pass,
  };
}

/** One browser eval, from run creation to its summary; `update` receives progress as it happens. */
class BrowserEval {
  private worker: Worker | null = null;
  private pending: RecordedResult[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private progress: EvalProgress = { stage: "loading", runId: null, total: 0, done: 0, passed: 0, error: null, summary: null };

  constructor(
    private readonly client: Client,
    private readonly update: (p: EvalProgress) => void,
  ) {}

  private set(patch: Partial<EvalProgress>) {
    this.progress = { ...this.progress, ...patch };
    this.update(this.progress);
  }

  cancel() {
    this.worker?.postMessage({ type: "cancel" } satisfies EvalWorkerRequest);
  }

  dispose() {
    this.worker?.terminate();
    this.worker = null;
  }

  async run(projectId: string, modelVersionId: string, suiteVersionId: string, maxNewTokens: number): Promise<void> {
    let runId: string | null = null;
    const timer = setInterval(() => void this.flush().catch(() => undefined), FLUSH_EVERY_MS);
    try {
      const exported = await this.client.suite.exportVersion.query({ suiteVersionId });
      const { cases, errors } = parseHearthJsonl(exported.content);
      if (errors.length) throw new Error(`The suite version has cases this browser cannot read (line ${errors[0].line}: ${errors[0].message}).`);
      if (!cases.length) throw new Error("The suite version has no cases.");
      const run = await this.client.run.create.mutate({ projectId, kind: "EVAL", target: "BROWSER", config: { maxNewTokens, temperature: 0, runner: "browser" }, suiteVersionId, modelVersionId });
      runId = run.id;
      this.set({ runId, total: cases.length });
      await this.client.run.transition.mutate({ runId, status: "RUNNING" });
      const model = await fetchBytes(modelArtifactUrl(modelVersionId), "Downloading the model");
      this.set({ stage: "running" });
      const cancelled = await this.evaluate(cases, model, maxNewTokens);
      this.set({ stage: "saving" });
      await this.flush(true);
      const finished = await this.client.run.transition.mutate({ runId, status: cancelled ? "CANCELLED" : "SUCCEEDED" });
      this.set({ stage: cancelled ? "cancelled" : "succeeded", summary: (finished.summary ?? null) as EvalProgress["summary"] });
    } catch (error) {
      const message = describeError(error);
      if (runId) {
        await this.flush().catch(() => undefined);
        await this.client.run.transition.mutate({ runId, status: "FAILED", error: message.slice(0, 4000) }).catch(() => undefined);
      }
      this.set({ stage: "failed", error: message });
    } finally {
      clearInterval(timer);
      this.dispose();
    }
  }

  private evaluate(cases: unknown[], model: Uint8Array, maxNewTokens: number): Promise<boolean> {
    const worker = new Worker(new URL("./eval.worker.ts", import.meta.url), { type: "module", name: "hearth-eval" });
    this.worker = worker;
    return new Promise((resolve, reject) => {
      worker.onerror = (event) => reject(new Error(`The eval worker stopped: ${event.message || "it could not be loaded"}.`));
      worker.onmessage = (event: MessageEvent<EvalWorkerEvent>) => {
        const e = event.data;
        if (e.type === "case") {
          this.pending.push(toRecord(e.result));
          this.set({ done: this.progress.done + 1, passed: this.progress.passed + (e.result.pass ? 1 : 0) });
        } else if (e.type === "done") resolve(e.cancelled);
        else if (e.type === "error") reject(new Error(e.message));
      };
      const request: EvalWorkerRequest = { type: "start", cases: cases as Extract<EvalWorkerRequest, { type: "start" }>["cases"], model, options: { maxNewTokens } };
      worker.postMessage(request, [model.buffer as ArrayBuffer]);
    });
  }

  /** Sends waiting results in batches (results are idempotent per case); `final` retries until all are in. */
  private flush(final = false): Promise<void> {
    this.flushing = this.flushing.catch(() => undefined).then(async () => {
      const runId = this.progress.runId;
      for (let attempt = 0; runId && this.pending.length; ) {
        const batch = this.pending.slice(0, MAX_RESULTS_PER_CALL);
        try {
          await this.client.run.recordResults.mutate({ runId, results: batch });
          this.pending.splice(0, batch.length);
        } catch (error) {
          if (!final || ++attempt >= 3) throw error;
          await new Promise((r) => setTimeout(r, 1000 * attempt));
        }
      }
    });
    return this.flushing;
  }
}

/** The server evaluates the run itself (small folder models on its CPU, rubric cases graded by the judge endpoint picked). */
function ServerEvalFields({ projectId, judgeId, onJudge }: { projectId: string; judgeId: string; onJudge: (id: string) => void }) {
  const trpc = useTRPC();
  const endpoints = useQuery(trpc.endpoint.list.queryOptions({ projectId }));
  return (
    <label className="field">
      Judge for rubric cases
      <select value={judgeId} onChange={(e) => onJudge(e.target.value)} aria-label="Judge for rubric cases">
        <option value="">none (rubric cases fail)</option>
        {endpoints.data?.map((e) => (
          <option key={e.id} value={e.id}>
            {e.name} ({e.model})
          </option>
        ))}
      </select>
    </label>
  );
}

export function EvaluatePanel({ orgId, projectId, modelVersionId, title = "Evaluate" }: { orgId: string; projectId: string; modelVersionId?: string; title?: string }) {
  const client = useTRPCClient();
  const [where, setWhere] = useState<"browser" | "server">("browser");
  const [judgeId, setJudgeId] = useState("");
  const [serverRun, setServerRun] = useState<{ id: string } | null>(null);
  const [starting, setStarting] = useState(false);
  const [picked, setPicked] = useState<PickedModelVersion | null>(null);
  const [suiteVersionId, setSuiteVersionId] = useState("");
  const [maxNewTokens, setMaxNewTokens] = useState(32);
  const [progress, setProgress] = useState<EvalProgress | null>(null);
  const [error, setError] = useState<unknown>(null);
  const current = useRef<BrowserEval | null>(null);
  useEffect(() => () => current.current?.dispose(), []);

  const versionId = modelVersionId ?? picked?.id ?? "";
  const running = progress !== null && ["loading", "running", "saving"].includes(progress.stage);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!versionId || !suiteVersionId || running || starting) return;
    setError(null);
    if (where === "server") {
      setStarting(true);
      setServerRun(null);
      void client.run.create
        .mutate({ projectId, kind: "EVAL", target: "SERVER", config: { maxTokens: Math.min(512, maxNewTokens), temperature: 0, ...(judgeId ? { judgeEndpointId: judgeId } : {}) }, suiteVersionId, modelVersionId: versionId })
        .then(setServerRun, setError)
        .finally(() => setStarting(false));
      return;
    }
    const evaluation = new BrowserEval(client, setProgress);
    current.current = evaluation;
    void evaluation.run(projectId, versionId, suiteVersionId, maxNewTokens).catch(setError);
  }

  const runHref = progress?.runId ? `/orgs/${orgId}/projects/${projectId}/runs/${progress.runId}?tab=results` : null;
  return (
    <Section title={title}>
      <p className="hint">
        Runs every case of a published suite version against the model and records the outputs and grades as an eval run: on this device&apos;s GPU, or on the Hearth server&apos;s CPU (folder models of
        up to a million parameters), where a judge endpoint can grade rubric cases.
      </p>
      <form className="inline" onSubmit={onSubmit} data-testid="evaluate-form">
        {modelVersionId ? null : <ModelVersionPicker projectId={projectId} value={picked} onChange={setPicked} />}
        <SuiteVersionPicker projectId={projectId} value={suiteVersionId} onChange={setSuiteVersionId} />
        <label className="field">
          Where
          <select value={where} onChange={(e) => setWhere(e.target.value as "browser" | "server")} aria-label="Where to evaluate">
            <option value="browser">this browser (GPU)</option>
            <option value="server">the server (CPU, small models)</option>
          </select>
        </label>
        {where === "server" ? <ServerEvalFields projectId={projectId} judgeId={judgeId} onJudge={setJudgeId} /> : null}
        <label className="field">
          Max new tokens
          <input type="number" min={1} max={1024} value={maxNewTokens} onChange={(e) => setMaxNewTokens(Math.min(1024, Math.max(1, Math.floor(Number(e.target.value) || 1))))} aria-label="Max new tokens" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={!versionId || !suiteVersionId || running || starting}>
          {running ? "Evaluating…" : starting ? "Starting…" : "Run eval"}
        </button>
        {running ? (
          <button className="btn btn-danger" type="button" onClick={() => current.current?.cancel()}>
            Cancel
          </button>
        ) : null}
      </form>
      <ErrorAlert error={error} />
      {serverRun ? (
        <p className="hint" data-testid="server-eval-started">
          The server is evaluating it: <Link href={`/orgs/${orgId}/projects/${projectId}/runs/${serverRun.id}`}>follow the run</Link>.
        </p>
      ) : null}
      {progress ? (
        <div className="stack" data-testid="eval-progress">
          {progress.total ? <progress max={progress.total} value={progress.done} style={{ width: "100%" }} aria-label="Eval progress" /> : null}
          <p style={{ margin: 0 }}>
            <span className={`badge ${progress.stage === "succeeded" ? "badge-ok" : progress.stage === "failed" ? "badge-danger" : "badge-running"}`} data-testid="eval-stage">
              {progress.stage}
            </span>{" "}
            {progress.done}/{progress.total || "…"} cases, {progress.passed} passed
            {progress.summary?.passRate !== undefined ? ` · pass rate ${percent(progress.summary.passRate)} · mean score ${progress.summary.meanScore?.toFixed(3)}` : ""}
            {runHref ? (
              <>
                {" · "}
                <Link href={runHref} data-testid="eval-run-link">
                  per-case results
                </Link>
              </>
            ) : null}
          </p>
          {progress.error ? (
            <div className="alert alert-error" role="alert">
              {progress.error}
            </div>
          ) : null}
        </div>
      ) : null}
    </Section>
  );
}
