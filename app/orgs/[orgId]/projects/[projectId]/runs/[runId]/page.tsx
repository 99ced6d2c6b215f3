"use client";
import Link from "next/link";
import { useParams, usePathname, useRouter, useSearchParams } from "next/navigation";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { Suspense, useEffect, useRef, useState, type ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { duration, percent, ProjectCrumbs, Section, TabBar } from "@/app/_components/records";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";
import { appendPoints, formatMetric, MetricsChart, type MetricSeries } from "@/app/_components/MetricsChart";
import { roleAtLeast } from "@/contracts/roles";
import { RunActions } from "@/app/_components/runs/RunActions";
import { NoNodeWarning } from "@/app/_components/runs/NoNodeWarning";

const TABS = [
  { id: "overview", label: "Overview" },
  { id: "results", label: "Results" },
  { id: "compare", label: "Compare" },
] as const;
type Tab = (typeof TABS)[number]["id"];
type EvalSummary = {
  cases?: number;
  graded?: number;
  passed?: number;
  passRate?: number;
  meanScore?: number;
  byTag?: Record<string, { cases: number; passed: number }>;
  /** Endpoint evals: latency and tokens over the answered cases. */
  usage?: { answered: number; p50LatencyMs: number; p95LatencyMs: number; completionTokens: number | null };
};

function inputText(input: unknown): string {
  if (input === null || input === undefined) return "";
  if (typeof input === "string") return input;
  if (Array.isArray(input)) return input.map((m) => `${(m as { role?: string }).role ?? "?"}: ${(m as { content?: string }).content ?? ""}`).join("\n");
  return JSON.stringify(input);
}

function RunPage() {
  const { orgId, projectId, runId } = useParams<{ orgId: string; projectId: string; runId: string }>();
  const params = useSearchParams();
  const pathname = usePathname();
  const trpc = useTRPC();
  const run = useQuery({
    ...trpc.run.get.queryOptions({ runId }),
    // Progress (steps, cases done) while it runs; a change of status arrives at once (LiveUpdates).
    refetchInterval: (query) => (query.state.data && ["QUEUED", "RUNNING"].includes(query.state.data.status) ? 3000 : false),
  });
  const tab = (TABS.find((t) => t.id === params.get("tab"))?.id ?? "overview") as Tab;

  if (run.isLoading) return <Loading what="run" />;
  if (run.error) return <ErrorAlert error={run.error} />;
  const r = run.data!;
  const isEval = r.kind === "EVAL";
  const summary = (r.summary ?? null) as EvalSummary | null;
  const tabs = isEval ? TABS : TABS.filter((t) => t.id === "overview");
  const live = r.status === "QUEUED" || r.status === "RUNNING";

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Runs" sectionHref={`/orgs/${orgId}/projects/${projectId}/runs`} />
      <div className="page-header">
        <div>
          <h1>
            {r.kind} run <span className="mono">{r.id.slice(0, 10)}</span>
          </h1>
          <p className="subtitle">
            {r.target} · created {formatDate(r.createdAt)} · {duration(r.startedAt, r.finishedAt)}
          </p>
          <RunInputs orgId={orgId} projectId={projectId} run={r} />
        </div>
        <div className="row">
          {roleAtLeast(r.role, "EDITOR") ? <RunActions run={r} orgId={orgId} projectId={projectId} onChanged={() => run.refetch()} /> : null}
          <RunStatusBadge status={r.status} />
        </div>
      </div>
      {r.target === "NODE" && r.status === "QUEUED" ? <NoNodeWarning orgId={orgId} what="this run" /> : null}
      {r.error ? (
        <div className="alert alert-error" role="alert">
          {r.error}
        </div>
      ) : null}
      {r.waiting ? (
        <div className="alert alert-info" role="status">
          Waiting: {r.waiting}
        </div>
      ) : null}
      <TabBar label="Run" tabs={tabs} current={tab} hrefFor={(id) => `${pathname}?tab=${id}`} />
      {tab === "overview" ? (
        <>
          {isEval ? <SummaryCard summary={summary} status={r.status} /> : null}
          {isEval && r.clauses.length ? <ClauseResults orgId={orgId} projectId={projectId} clauses={r.clauses} /> : null}
          <Section title="Metrics">
            <LiveMetrics runId={runId} live={live} />
          </Section>
          {!isEval && r.summary ? (
            <Section title="Summary">
              <SummaryTable summary={r.summary} />
            </Section>
          ) : null}
        </>
      ) : null}
      {tab === "results" && isEval ? <Results runId={runId} live={live} /> : null}
      {tab === "compare" && isEval && r.suiteVersion ? <Compare runId={runId} projectId={projectId} suiteId={r.suiteVersion.suiteId} /> : null}
    </>
  );
}

type RunDetail = {
  kind: string;
  suiteVersion: { id: string; version: number; suiteId: string; suite: { name: string } } | null;
  endpoint: { id: string; name: string } | null;
  modelVersion: { id: string; version: number; modelId: string; modelName: string } | null;
  datasetVersion: { id: string; version: number; datasetId: string; datasetName: string } | null;
};

/** What the run measured or trained from, each a link: model version, dataset version, suite version, endpoint. */
function RunInputs({ orgId, projectId, run }: { orgId: string; projectId: string; run: RunDetail }) {
  const base = `/orgs/${orgId}/projects/${projectId}`;
  const items: { label: string; node: ReactNode }[] = [];
  if (run.modelVersion) {
    items.push({
      label: run.kind === "EVAL" ? "Model measured" : "Parent model",
      node: <Link href={`${base}/models/${run.modelVersion.modelId}`}>{`${run.modelVersion.modelName} v${run.modelVersion.version}`}</Link>,
    });
  }
  if (run.endpoint) items.push({ label: "Endpoint measured", node: <Link href={`${base}/endpoints`}>{run.endpoint.name}</Link> });
  if (run.suiteVersion) {
    items.push({ label: "Suite", node: <Link href={`${base}/suites/${run.suiteVersion.suiteId}?tab=versions`}>{`${run.suiteVersion.suite.name} v${run.suiteVersion.version}`}</Link> });
  }
  if (run.datasetVersion) {
    items.push({ label: "Dataset", node: <Link href={`${base}/datasets#${run.datasetVersion.datasetId}`}>{`${run.datasetVersion.datasetName} v${run.datasetVersion.version}`}</Link> });
  }
  if (run.kind === "EVAL" && !run.modelVersion && !run.endpoint) items.push({ label: "Model measured", node: <span className="muted">not recorded</span> });
  if (!items.length) return null;
  return (
    <dl className="run-inputs" data-testid="run-inputs">
      {items.map((item) => (
        <div key={item.label}>
          <dt>{item.label}</dt>
          <dd>{item.node}</dd>
        </div>
      ))}
    </dl>
  );
}

type ClauseResult = { clause: string; cases: number; passed: number; policyId: string | null; policyTitle: string | null; number: string | null; title: string | null };

/** Pass counts per policy clause the suite's cases cite, weakest first: where the model falls short of the policy. */
function ClauseResults({ orgId, projectId, clauses }: { orgId: string; projectId: string; clauses: ClauseResult[] }) {
  const rows = [...clauses].sort((a, b) => a.passed / a.cases - b.passed / b.cases || a.clause.localeCompare(b.clause));
  return (
    <Section title="By policy clause">
      <table className="table" data-testid="clause-results">
        <thead>
          <tr>
            <th>Clause</th>
            <th>Policy</th>
            <th>Passed</th>
            <th>Pass rate</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.clause} className={c.passed < c.cases ? "row-fail" : undefined}>
              <td>
                {c.title ? (
                  <>
                    {c.number ? `${c.number} ` : ""}
                    {c.title} <span className="hint mono">{c.clause}</span>
                  </>
                ) : (
                  <span className="mono">{c.clause}</span>
                )}
              </td>
              <td>{c.policyId ? <Link href={`/orgs/${orgId}/projects/${projectId}/policies/${c.policyId}`}>{c.policyTitle}</Link> : <span className="muted">not in a published policy</span>}</td>
              <td>
                {c.passed}/{c.cases}
              </td>
              <td>{percent(c.cases ? c.passed / c.cases : null)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

/** A training run's summary as rows of name and value; nested objects become dotted names. */
function SummaryTable({ summary }: { summary: unknown }) {
  const rows: [string, string][] = [];
  const walk = (value: unknown, path: string) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) walk(v, path ? `${path}.${k}` : k);
      return;
    }
    rows.push([path || "value", typeof value === "number" ? (Number.isInteger(value) ? value.toLocaleString() : formatMetric(value)) : typeof value === "string" ? value : JSON.stringify(value)]);
  };
  walk(summary, "");
  return (
    <table className="table" data-testid="run-summary-table">
      <tbody>
        {rows.map(([name, value]) => (
          <tr key={name}>
            <th scope="row" className="mono">
              {name}
            </th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function SummaryCard({ summary, status }: { summary: EvalSummary | null; status: string }) {
  if (!summary || summary.passRate === undefined) {
    return (
      <Section title="Summary">
        <p className="muted">{status === "SUCCEEDED" ? "No summary was recorded." : "The summary appears when the run succeeds."}</p>
      </Section>
    );
  }
  const tags = Object.entries(summary.byTag ?? {}).sort(([a], [b]) => a.localeCompare(b));
  return (
    <Section title="Summary">
      <div className="stats" data-testid="run-summary">
        <div className="stat">
          <b>{percent(summary.passRate)}</b>
          <span>pass rate</span>
        </div>
        <div className="stat">
          <b>
            {summary.passed}/{summary.graded}
          </b>
          <span>cases passed</span>
        </div>
        <div className="stat">
          <b>{summary.meanScore?.toFixed(3) ?? "—"}</b>
          <span>mean score</span>
        </div>
        <div className="stat">
          <b>{summary.cases ?? "—"}</b>
          <span>cases in suite</span>
        </div>
        {summary.usage ? (
          <>
            <div className="stat">
              <b>
                {summary.usage.p50LatencyMs} / {summary.usage.p95LatencyMs} ms
              </b>
              <span>latency p50 / p95</span>
            </div>
            <div className="stat">
              <b>{summary.usage.completionTokens ?? "—"}</b>
              <span>tokens generated</span>
            </div>
          </>
        ) : null}
      </div>
      {tags.length ? (
        <table className="table">
          <thead>
            <tr>
              <th>Tag</th>
              <th>Passed</th>
              <th>Pass rate</th>
            </tr>
          </thead>
          <tbody>
            {tags.map(([tag, t]) => (
              <tr key={tag}>
                <td>
                  <span className="badge">{tag}</span>
                </td>
                <td>
                  {t.passed}/{t.cases}
                </td>
                <td>{percent(t.cases ? t.passed / t.cases : null)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

/** The run's metrics; only a queued or running run listens for new points and says it is live. */
function LiveMetrics({ runId, live }: { runId: string; live: boolean }) {
  const trpc = useTRPC();
  const initial = useQuery({ ...trpc.run.metrics.queryOptions({ runId }), refetchOnWindowFocus: false, staleTime: Infinity });
  const series = useRef(new Map<string, MetricSeries>());
  const pending = useRef<{ name: string; step: number; value: number }[]>([]);
  const [version, setVersion] = useState(0);
  const loaded = useRef(false);

  useEffect(() => {
    if (!initial.data || loaded.current) return;
    loaded.current = true;
    const map = new Map<string, MetricSeries>();
    for (const row of initial.data) map.set(row.name, { name: row.name, steps: [...row.steps].map(Number), values: [...row.values].map(Number) });
    // Points that arrived live before the initial load are merged in, not lost.
    appendPoints(map, pending.current);
    pending.current = [];
    series.current = map;
    setVersion((v) => v + 1);
  }, [initial.data]);

  const feed = useSubscription(
    trpc.run.liveMetrics.subscriptionOptions(
      { runId },
      {
        enabled: live,
        onData: ({ data: points }) => {
          if (!loaded.current) {
            pending.current.push(...points);
            return;
          }
          appendPoints(series.current, points);
          setVersion((v) => v + 1);
        },
      },
    ),
  );

  if (initial.isLoading) return <Loading what="metrics" />;
  if (initial.error) return <ErrorAlert error={initial.error} />;
  return (
    <>
      <p className="hint">
        {live ? (
          <span className="badge" title="New points appear as they are logged" data-testid="metrics-live">
            {feed.status === "pending" ? "● live" : feed.status === "error" ? "live updates paused" : "connecting…"}
          </span>
        ) : (
          <span className="badge" data-testid="metrics-live">
            run ended: final metrics
          </span>
        )}
      </p>
      <MetricsChart series={series.current} version={version} />
    </>
  );
}

function Results({ runId, live }: { runId: string; live: boolean }) {
  const trpc = useTRPC();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  // Local state answers the click at once; the URL keeps the choice shareable.
  const [onlyFailures, setOnlyFailures] = useState(params.get("failures") === "1");
  const results = useInfiniteQuery({
    ...trpc.run.results.infiniteQueryOptions({ runId, onlyFailures, limit: 50 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
    // Results of a run in progress (endpoint evals record them case by case) come in as they are stored.
    refetchInterval: live ? 3000 : false,
  });
  const rows = results.data?.pages.flatMap((p) => p.items) ?? [];
  const graders = [...new Set(rows.flatMap((r) => r.grades.map((g) => g.grader)))];
  function toggle(checked: boolean) {
    setOnlyFailures(checked);
    const next = new URLSearchParams(params.toString());
    if (checked) next.set("failures", "1");
    else next.delete("failures");
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  }
  return (
    <Section
      title="Per-case results"
      actions={
        <label className="row">
          <input type="checkbox" checked={onlyFailures} onChange={(e) => toggle(e.target.checked)} /> Failures only
        </label>
      }
    >
      <ErrorAlert error={results.error} />
      {results.isLoading ? (
        <Loading what="results" />
      ) : rows.length === 0 ? (
        <p className="empty">{onlyFailures ? "No failures." : "No results recorded."}</p>
      ) : (
        <div className="scroll-x">
          <table className="table" data-testid="results">
            <thead>
              <tr>
                <th>Case</th>
                <th>Input</th>
                <th>Expected</th>
                <th>Output</th>
                {graders.map((g) => (
                  <th key={g}>{g}</th>
                ))}
                <th>Result</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.caseId} className={r.pass ? undefined : "row-fail"}>
                  <td className="mono">
                    {r.caseId}
                    <div>
                      {r.tags.map((t) => (
                        <span key={t} className="badge">
                          {t}
                        </span>
                      ))}
                    </div>
                  </td>
                  <td>
                    <pre className="cell-text">{inputText(r.input)}</pre>
                  </td>
                  <td>
                    <pre className="cell-text">{r.expected ?? (r.choices ? r.choices.join(" | ") : "")}</pre>
                  </td>
                  <td>
                    <OutputText text={r.output} />
                  </td>
                  {graders.map((name) => {
                    const g = r.grades.find((x) => x.grader === name);
                    return (
                      <td key={name}>
                        {g ? (
                          <>
                            <span className={`badge ${g.pass ? "badge-ok" : "badge-danger"}`}>{g.score.toFixed(2)}</span>
                            <div className="hint cell-reason">{g.reason}</div>
                          </>
                        ) : (
                          "—"
                        )}
                      </td>
                    );
                  })}
                  <td>
                    <span className={`badge ${r.pass ? "badge-ok" : "badge-danger"}`}>{r.pass ? "pass" : "fail"}</span>
                    <div className="hint">{r.score.toFixed(2)}</div>
                    {r.latencyMs !== null ? (
                      <div className="hint" data-testid="result-usage">
                        {r.latencyMs} ms{r.completionTokens !== null ? ` · ${r.completionTokens} tok` : ""}
                      </div>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {results.hasNextPage ? (
        <button className="btn" onClick={() => results.fetchNextPage()} disabled={results.isFetchingNextPage}>
          {results.isFetchingNextPage ? "Loading…" : "Load more"}
        </button>
      ) : null}
    </Section>
  );
}

const COMPARE_PAGE = 100;

function Compare({ runId, projectId, suiteId }: { runId: string; projectId: string; suiteId: string }) {
  const trpc = useTRPC();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const suite = useQuery(trpc.suite.get.queryOptions({ suiteId }));
  // The server picks this suite's runs: filtering the project's newest runs here would lose older ones.
  const runs = useInfiniteQuery(
    trpc.run.list.infiniteQueryOptions({ projectId, kind: "EVAL", suiteId, limit: COMPARE_PAGE }, { getNextPageParam: (page) => (page.length === COMPARE_PAGE ? page[page.length - 1].id : undefined) }),
  );
  const versionOf = new Map((suite.data?.versions ?? []).map((v) => [v.id, v.version]));
  const candidates = (runs.data?.pages.flat() ?? []).filter((r) => r.id !== runId);
  const base = params.get("base") ?? "";
  const compare = useQuery({ ...trpc.run.compare.queryOptions({ runId, baseRunId: base }), enabled: !!base });
  function choose(id: string) {
    const next = new URLSearchParams(params.toString());
    if (id) next.set("base", id);
    else next.delete("base");
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  }
  const c = compare.data;
  return (
    <Section title="Compare with another run">
      <ErrorAlert error={runs.error ?? suite.error} />
      <label className="field" style={{ maxWidth: "32rem", marginBottom: "1rem" }}>
        Baseline run (same suite)
        <select value={base} onChange={(e) => choose(e.target.value)} data-testid="compare-base">
          <option value="">choose a run…</option>
          {candidates.map((r) => (
            <option key={r.id} value={r.id}>
              {r.id.slice(0, 10)} · v{versionOf.get(r.suiteVersionId!)} · {r.status} · {formatDate(r.createdAt)} · {percent((r.summary as { passRate?: number } | null)?.passRate)}
            </option>
          ))}
        </select>
      </label>
      {runs.hasNextPage ? (
        <button className="btn" onClick={() => runs.fetchNextPage()} disabled={runs.isFetchingNextPage} style={{ marginBottom: "1rem" }}>
          {runs.isFetchingNextPage ? "Loading…" : "Load older runs"}
        </button>
      ) : null}
      {candidates.length === 0 && runs.data ? <p className="muted">No other eval run of this suite to compare with.</p> : null}
      <ErrorAlert error={compare.error} />
      {compare.isLoading && base ? <Loading what="comparison" /> : null}
      {c ? (
        <>
          <div className="stats" data-testid="compare-counts">
            <div className="stat">
              <b className="text-danger">{c.counts.regressed}</b>
              <span>regressed</span>
            </div>
            <div className="stat">
              <b className="text-ok">{c.counts.improved}</b>
              <span>improved</span>
            </div>
            <div className="stat">
              <b>{c.counts.unchanged}</b>
              <span>unchanged</span>
            </div>
            {c.counts.onlyInBase || c.counts.onlyInRun ? (
              <div className="stat">
                <b>
                  {c.counts.onlyInBase}/{c.counts.onlyInRun}
                </b>
                <span>only in baseline / this run</span>
              </div>
            ) : null}
          </div>
          {c.significance ? (
            <div className={`alert ${c.significance.mcnemar.p < 0.05 ? "alert-info" : "alert-muted"}`} data-testid="compare-significance">
              <b>{c.significance.mcnemar.p < 0.05 ? "Likely a real difference." : "Could be chance."}</b> Pass rate{" "}
              {c.significance.passRateDifference >= 0 ? "+" : ""}
              {(c.significance.passRateDifference * 100).toFixed(1)} pts over {c.significance.cases} paired cases; McNemar&apos;s exact test p ={" "}
              {c.significance.mcnemar.p.toPrecision(3)}
              {c.significance.scoreDifference ? (
                <>
                  ; mean score difference {c.significance.scoreDifference.mean >= 0 ? "+" : ""}
                  {c.significance.scoreDifference.mean.toFixed(3)}, {Math.round(c.significance.scoreDifference.confidence * 100)}% interval [
                  {c.significance.scoreDifference.low.toFixed(3)}, {c.significance.scoreDifference.high.toFixed(3)}] (paired bootstrap, {c.significance.scoreDifference.resamples.toLocaleString("en")} resamples)
                </>
              ) : null}
              .
            </div>
          ) : (
            <p className="hint">The two runs graded different suite versions: no significance test (it needs the same cases and graders).</p>
          )}
          <div className="scroll-x">
            <table className="table" data-testid="compare-rows">
              <thead>
                <tr>
                  <th>Case</th>
                  <th>Change</th>
                  <th>Baseline output</th>
                  <th>This run's output</th>
                </tr>
              </thead>
              <tbody>
                {c.rows.slice(0, 500).map((row) => (
                  <tr key={row.caseId} className={row.change === "regressed" ? "row-fail" : undefined}>
                    <td className="mono">{row.caseId}</td>
                    <td>
                      <span className={`badge ${row.change === "regressed" ? "badge-danger" : row.change === "improved" ? "badge-ok" : ""}`}>{row.change}</span>
                      <div className="hint">
                        {row.before.score.toFixed(2)} → {row.after.score.toFixed(2)}
                      </div>
                    </td>
                    <td>
                      <OutputText text={row.before.output} />
                    </td>
                    <td>
                      <OutputText text={row.after.output} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {c.rows.length > 500 ? <p className="hint">First 500 of {c.rows.length} cases shown.</p> : null}
          </div>
        </>
      ) : null}
    </Section>
  );
}

export default function Page() {
  return (
    <Suspense fallback={<Loading what="run" />}>
      <RunPage />
    </Suspense>
  );
}

/** A model's output as text; an empty or whitespace-only output says so instead of showing a blank cell. */
function OutputText({ text }: { text: string }) {
  if (text === "") return <span className="muted">(empty output)</span>;
  // Whitespace is shown escaped, so "\n\n" and "   " can be told apart (and from an empty output).
  if (text.trim() === "")
    return (
      <span>
        <span className="muted">(whitespace only)</span> <code className="mono" data-testid="raw-output">{JSON.stringify(text)}</code>
      </span>
    );
  return <pre className="cell-text">{text}</pre>;
}
