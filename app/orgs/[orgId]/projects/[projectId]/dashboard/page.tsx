"use client";
import Link from "next/link";
import { useParams, usePathname, useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { Suspense, useMemo, useState } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import type { AppRouter } from "@/server/trpc/root";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { percent, ProjectCrumbs } from "@/app/_components/records";
import { LineChart } from "@/app/_components/charts/LineChart";
import { ChartPanel, RateBars } from "@/app/_components/charts/Panel";
import { CsvButton, DataTable, type Column } from "@/app/_components/charts/Table";

type Dashboard = inferRouterOutputs<AppRouter>["dashboard"]["project"];
type Model = Dashboard["models"][number];
const RANGES = [
  { id: "7d", label: "Last 7 days" },
  { id: "30d", label: "Last 30 days" },
  { id: "90d", label: "Last 90 days" },
  { id: "365d", label: "Last year" },
  { id: "all", label: "All time" },
] as const;
type Range = (typeof RANGES)[number]["id"];

function rate(passed: number, cases: number) {
  return cases ? passed / cases : null;
}

/** Clauses the coverage matrix shows before it is expanded: about a screenful. */
const COVERAGE_ROWS = 15;

function formatMs(ms: number | null) {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function DashboardPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const params = useSearchParams();
  const pathname = usePathname();
  const router = useRouter();
  const trpc = useTRPC();
  const range = (RANGES.find((r) => r.id === params.get("range"))?.id ?? "all") as Range;
  const suiteId = params.get("suite") || undefined;
  const tag = params.get("tag") || undefined;
  // Versions picked in the URL get their tag and clause breakdowns too.
  const versionIds = [...new Set(["version", "base", "candidate"].map((k) => params.get(k)).filter((v): v is string => Boolean(v)))];
  const dashboard = useQuery({ ...trpc.dashboard.project.queryOptions({ projectId, range, suiteId, tag, versionIds: versionIds.length ? versionIds : undefined }), placeholderData: (previous) => previous });
  const base = `/orgs/${orgId}/projects/${projectId}`;

  function setParam(changes: Record<string, string | undefined>) {
    const next = new URLSearchParams(params.toString());
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  }

  const d = dashboard.data;
  const model: Model | undefined = d?.models.find((m) => m.id === params.get("model")) ?? d?.models.find((m) => m.aliases.some((a) => a.name === "production")) ?? d?.models[0];

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Dashboard</h1>
          <p className="subtitle">Scores per model version, pass rate by tag, policy coverage, regressions and where compute went.</p>
        </div>
      </div>
      <form className="row card" aria-label="Filters" style={{ flexWrap: "wrap", gap: "1rem" }} onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          Time range
          <select name="range" value={range} onChange={(e) => setParam({ range: e.target.value === "all" ? undefined : e.target.value })}>
            {RANGES.map((r) => (
              <option key={r.id} value={r.id}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Suite
          <select name="suite" value={suiteId ?? ""} onChange={(e) => setParam({ suite: e.target.value })}>
            <option value="">All suites</option>
            {d?.suites.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          Tag
          <select name="tag" value={tag ?? ""} onChange={(e) => setParam({ tag: e.target.value })}>
            <option value="">All tags</option>
            {d?.tags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {d && d.models.length > 1 ? (
          <label className="field">
            Model
            <select name="model" value={model?.id ?? ""} onChange={(e) => setParam({ model: e.target.value, base: undefined, candidate: undefined, version: undefined })}>
              {d.models.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <p className="hint grow" style={{ alignSelf: "end" }}>
          Filters live in the address: copy it to share this view.
        </p>
      </form>
      <ErrorAlert error={dashboard.error} />
      {dashboard.isLoading ? <Loading what="dashboard" /> : null}
      {d && !model ? <p className="empty">No models yet: the dashboard fills in once model versions are evaluated.</p> : null}
      {d && model ? <ModelDashboard d={d} model={model} base={base} params={params} setParam={setParam} projectId={projectId} /> : null}
      {d ? <RunHistory d={d} base={base} /> : null}
    </>
  );
}

function ModelDashboard({ d, model, base, params, setParam, projectId }: { d: Dashboard; model: Model; base: string; params: URLSearchParams; setParam: (c: Record<string, string | undefined>) => void; projectId: string }) {
  const suites = d.suites.filter((s) => d.scores.some((sc) => sc.suiteId === s.id));
  const [allClauses, setAllClauses] = useState(false);
  const versionIds = new Set(model.versions.map((v) => v.id));
  const scores = useMemo(() => new Map(d.scores.filter((s) => versionIds.has(s.modelVersionId)).map((s) => [`${s.modelVersionId}/${s.suiteId}`, s])), [d, model]); // eslint-disable-line react-hooks/exhaustive-deps
  const evaluated = model.versions.filter((v) => suites.some((s) => scores.has(`${v.id}/${s.id}`)));
  const aliasesOf = (id: string) => model.aliases.filter((a) => a.modelVersionId === id).map((a) => a.name);
  const production = model.aliases.find((a) => a.name === "production")?.modelVersionId;
  const latest = evaluated[evaluated.length - 1]?.id;
  const focusId = params.get("version") ?? production ?? latest;
  const focus = model.versions.find((v) => v.id === focusId);

  // Score over versions.
  type ScoreRow = (typeof evaluated)[number];
  const scoreColumns: Column<ScoreRow>[] = [
    { label: "Version", value: (v) => v.version, numeric: true },
    { label: "Aliases", value: (v) => aliasesOf(v.id).join(" ") },
    ...suites.flatMap((s): Column<ScoreRow>[] => [
      { label: `${s.name} pass rate`, value: (v) => scores.get(`${v.id}/${s.id}`)?.passRate ?? null, render: (v) => percent(scores.get(`${v.id}/${s.id}`)?.passRate), numeric: true },
      { label: `${s.name} cases`, value: (v) => scores.get(`${v.id}/${s.id}`)?.graded ?? null, numeric: true },
      { label: `${s.name} suite version`, value: (v) => scores.get(`${v.id}/${s.id}`)?.suiteVersion ?? null, numeric: true },
    ]),
  ];

  // Pass rate by tag for the focused version, summed over suites.
  const tagRows = [...d.tagRates.filter((t) => t.modelVersionId === focusId).reduce((m, t) => {
    const row = m.get(t.label) ?? { tag: t.label, cases: 0, passed: 0 };
    row.cases += t.cases;
    row.passed += t.passed;
    return m.set(t.label, row);
  }, new Map<string, { tag: string; cases: number; passed: number }>()).values()].sort((a, b) => a.tag.localeCompare(b.tag));
  const tagColumns: Column<(typeof tagRows)[number]>[] = [
    { label: "Tag", value: (r) => r.tag },
    { label: "Cases", value: (r) => r.cases, numeric: true },
    { label: "Passed", value: (r) => r.passed, numeric: true },
    { label: "Pass rate", value: (r) => rate(r.passed, r.cases), render: (r) => percent(rate(r.passed, r.cases)), numeric: true },
  ];

  // Coverage matrix: clauses x the versions with breakdowns (the latest evaluated, aliased and picked ones).
  const detail = new Set(d.detailVersionIds);
  const matrixVersions = evaluated.filter((v) => detail.has(v.id));
  const cell = new Map<string, { cases: number; passed: number }>();
  for (const r of d.coverage.rates) {
    const k = `${r.label}/${r.modelVersionId}`;
    const c = cell.get(k) ?? { cases: 0, passed: 0 };
    c.cases += r.cases;
    c.passed += r.passed;
    cell.set(k, c);
  }
  type Clause = Dashboard["coverage"]["clauses"][number];
  const coverageColumns: Column<Clause>[] = [
    { label: "Policy", value: (c) => c.policyTitle },
    { label: "Clause", value: (c) => `${c.number ?? ""} ${c.title}`.trim() },
    { label: "Clause id", value: (c) => c.clauseId, render: (c) => <span className="mono">{c.clauseId}</span> },
    { label: "Cases", value: (c) => c.cases, render: (c) => (c.cases === 0 ? <span className="badge badge-danger">no case</span> : c.cases), numeric: true },
    ...matrixVersions.map(
      (v): Column<Clause> => ({
        label: `v${v.version}${aliasesOf(v.id).length ? ` (${aliasesOf(v.id).join(", ")})` : ""}`,
        value: (c) => {
          const x = cell.get(`${c.clauseId}/${v.id}`);
          return x ? rate(x.passed, x.cases) : null;
        },
        render: (c) => {
          const x = cell.get(`${c.clauseId}/${v.id}`);
          if (!x) return <span className="muted">—</span>;
          const r = rate(x.passed, x.cases) ?? 0;
          return (
            <span title={`${x.passed} of ${x.cases} passed`} style={{ display: "inline-block", minWidth: "4.5rem", padding: "0.1rem 0.3rem", borderRadius: 4, background: r >= 0.8 ? "#e8f6ec" : r >= 0.5 ? "#fef3c7" : "#fdecec" }}>
              {percent(r)} <span className="hint">({x.cases})</span>
            </span>
          );
        },
        numeric: true,
      }),
    ),
  ];
  const uncited = d.coverage.clauses.filter((c) => c.cases === 0).length;

  return (
    <>
      <ChartPanel
        testId="score-chart"
        title={`Score over versions: ${model.name}`}
        description="Score = pass rate of the version's latest successful eval run on the latest suite version it was evaluated on. Dashed lines mark aliases."
        chart={
          evaluated.length ? (
            <LineChart
              xs={evaluated.map((v) => v.version)}
              xLabel="version"
              series={suites.map((s) => ({ label: s.name, values: evaluated.map((v) => scores.get(`${v.id}/${s.id}`)?.passRate ?? null) }))}
              markers={model.aliases.flatMap((a) => {
                const v = model.versions.find((x) => x.id === a.modelVersionId);
                return v ? [{ x: v.version, label: a.name }] : [];
              })}
              ariaLabel={`Pass rate of ${model.name} per version, one line per suite`}
            />
          ) : null
        }
        table={evaluated.length ? <DataTable testId="score-table" caption="Pass rate per version and suite" columns={scoreColumns} rows={evaluated} rowKey={(v) => v.id} /> : <p className="empty">No successful eval runs in this range.</p>}
        actions={<CsvButton filename="scores.csv" columns={scoreColumns} rows={evaluated} />}
      />
      <ChartPanel
        testId="tag-chart"
        title={`Pass rate by tag: ${focus ? `v${focus.version}` : "—"}`}
        description={
          <>
            Version{" "}
            <select aria-label="Version for the tag breakdown" value={focusId ?? ""} onChange={(e) => setParam({ version: e.target.value })}>
              {evaluated.map((v) => (
                <option key={v.id} value={v.id}>
                  v{v.version} {aliasesOf(v.id).join(", ")}
                </option>
              ))}
            </select>
          </>
        }
        chart={tagRows.length ? <RateBars rows={tagRows.map((r) => ({ label: r.tag, rate: rate(r.passed, r.cases), detail: `${percent(rate(r.passed, r.cases))} of ${r.cases}` }))} /> : null}
        table={tagRows.length ? <DataTable testId="tag-table" caption="Pass rate per tag" columns={tagColumns} rows={tagRows} rowKey={(r) => r.tag} /> : <p className="empty">No tagged results for this version.</p>}
        actions={<CsvButton filename="tags.csv" columns={tagColumns} rows={tagRows} />}
      />
      <section className="card" data-testid="coverage">
        <div className="section-head">
          <h2>Policy coverage</h2>
          <CsvButton filename="coverage.csv" columns={coverageColumns} rows={d.coverage.clauses} />
        </div>
        <p className="hint">
          Clauses of each policy&apos;s latest version × model versions: how many cases cite each clause (latest suite versions) and their pass rate. {uncited ? <b data-testid="uncited-count">{uncited} clause{uncited === 1 ? "" : "s"} with no case.</b> : null}
        </p>
        {d.coverage.clauses.length ? (
          <>
            <DataTable
              testId="coverage-table"
              caption={allClauses || d.coverage.clauses.length <= COVERAGE_ROWS ? "Coverage matrix" : `Coverage matrix: the first ${COVERAGE_ROWS} of ${d.coverage.clauses.length} clauses`}
              columns={coverageColumns}
              rows={allClauses ? d.coverage.clauses : d.coverage.clauses.slice(0, COVERAGE_ROWS)}
              rowKey={(c) => `${c.policyId}/${c.clauseId}`}
              rowClass={(c) => (c.cases === 0 ? "row-fail" : undefined)}
            />
            {d.coverage.clauses.length > COVERAGE_ROWS ? (
              <button type="button" className="btn btn-small" onClick={() => setAllClauses(!allClauses)} aria-expanded={allClauses} data-testid="coverage-toggle">
                {allClauses ? `Show the first ${COVERAGE_ROWS} clauses` : `Show all ${d.coverage.clauses.length} clauses`}
              </button>
            ) : null}
          </>
        ) : (
          <p className="empty">No published policy clauses yet.</p>
        )}
      </section>
      <Regressions model={model} evaluated={evaluated} aliasesOf={aliasesOf} params={params} setParam={setParam} projectId={projectId} base={base} production={production} />
    </>
  );
}

function Regressions({ model, evaluated, aliasesOf, params, setParam, projectId, base, production }: { model: Model; evaluated: Model["versions"]; aliasesOf: (id: string) => string[]; params: URLSearchParams; setParam: (c: Record<string, string | undefined>) => void; projectId: string; base: string; production: string | undefined }) {
  const trpc = useTRPC();
  const candidateId = params.get("candidate") ?? model.aliases.find((a) => a.name === "candidate")?.modelVersionId ?? evaluated[evaluated.length - 1]?.id;
  // By default: what changed from production to the candidate, else from the version before.
  const candIndex = evaluated.findIndex((v) => v.id === candidateId);
  const productionEvaluated = production !== candidateId && evaluated.some((v) => v.id === production);
  const baseId = params.get("base") ?? (productionEvaluated ? production : evaluated[Math.max(0, candIndex - 1)]?.id);
  const suiteId = params.get("suite") || undefined;
  const tag = params.get("tag") || undefined;
  const enabled = Boolean(baseId && candidateId && baseId !== candidateId);
  const regressions = useQuery({ ...trpc.dashboard.regressions.queryOptions({ projectId, baseVersionId: baseId ?? "", candidateVersionId: candidateId ?? "", suiteId, tag }), enabled });
  type Row = NonNullable<typeof regressions.data>["rows"][number];
  const columns: Column<Row>[] = [
    { label: "Suite", value: (r) => r.suiteName },
    { label: "Case", value: (r) => r.caseId, render: (r) => <Link href={`${base}/runs/${r.candidateRunId}?tab=results&failures=1`} className="mono">{r.caseId}</Link> },
    { label: "Base score", value: (r) => r.baseScore, numeric: true },
    { label: "Candidate score", value: (r) => r.candidateScore, numeric: true },
    { label: "Change", value: (r) => (r.basePass && !r.candidatePass ? "pass → fail" : "score dropped") },
  ];
  const label = (id: string) => {
    const v = model.versions.find((x) => x.id === id);
    return v ? `v${v.version}${aliasesOf(id).length ? ` (${aliasesOf(id).join(", ")})` : ""}` : "";
  };
  return (
    <section className="card" data-testid="regressions">
      <div className="section-head">
        <h2>Biggest regressions</h2>
        <CsvButton filename="regressions.csv" columns={columns} rows={regressions.data?.rows ?? []} />
      </div>
      <div className="row" style={{ gap: "1rem", marginBottom: "0.75rem" }}>
        <label className="field">
          From
          <select aria-label="Base version" value={baseId ?? ""} onChange={(e) => setParam({ base: e.target.value })}>
            {evaluated.map((v) => (
              <option key={v.id} value={v.id}>
                {label(v.id)}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          To
          <select aria-label="Candidate version" value={candidateId ?? ""} onChange={(e) => setParam({ candidate: e.target.value })}>
            {evaluated.map((v) => (
              <option key={v.id} value={v.id}>
                {label(v.id)}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorAlert error={regressions.error} />
      {!enabled ? <p className="empty">Choose two different evaluated versions.</p> : null}
      {regressions.data ? (
        <>
          <p className="hint" data-testid="regression-count">
            {regressions.data.counts.regressed} case{regressions.data.counts.regressed === 1 ? "" : "s"} went from pass to fail; {regressions.data.counts.worse} scored lower. Cases are compared within each suite between the two versions&apos; scoring runs.
          </p>
          {regressions.data.rows.length ? <DataTable testId="regression-table" caption={`Regressions from ${label(baseId!)} to ${label(candidateId!)}`} columns={columns} rows={regressions.data.rows} rowKey={(r) => `${r.suiteId}/${r.caseId}`} /> : <p className="empty">No regressions.</p>}
        </>
      ) : null}
    </section>
  );
}

function RunHistory({ d, base }: { d: Dashboard; base: string }) {
  type Run = Dashboard["runs"][number];
  const columns: Column<Run>[] = [
    { label: "Run", value: (r) => r.id, render: (r) => <Link href={`${base}/runs/${r.id}`} className="mono">{r.id.slice(0, 10)}</Link> },
    { label: "Kind", value: (r) => r.kind },
    { label: "Status", value: (r) => r.status },
    { label: "Ran on", value: (r) => (r.target === "BROWSER" ? "browser" : r.target === "NODE" ? "node" : r.target === "SERVER" ? "server (CPU)" : "endpoint") },
    { label: "Model", value: (r) => (r.modelName ? `${r.modelName} v${r.modelVersion}` : null) },
    { label: "Suite", value: (r) => (r.suiteName ? `${r.suiteName} v${r.suiteVersion}` : null) },
    { label: "Created", value: (r) => new Date(r.createdAt).toISOString(), render: (r) => formatDate(r.createdAt) },
    { label: "Duration", csvLabel: "Duration (ms)", value: (r) => r.durationMs, render: (r) => formatMs(r.durationMs), numeric: true },
    { label: "Tokens", value: (r) => r.tokens, render: (r) => (r.tokens === null ? "—" : r.tokens.toLocaleString()), numeric: true },
  ];
  type Compute = Dashboard["compute"][number];
  const computeColumns: Column<Compute>[] = [
    { label: "Ran on", value: (c) => c.target.toLowerCase() },
    { label: "Kind", value: (c) => c.kind },
    { label: "Runs", value: (c) => c.runs, numeric: true },
    { label: "Total duration", csvLabel: "Total duration (ms)", value: (c) => c.durationMs, render: (c) => formatMs(c.durationMs), numeric: true },
    { label: "Tokens", value: (c) => c.tokens, render: (c) => (c.tokens === null ? "—" : c.tokens.toLocaleString()), numeric: true },
  ];
  return (
    <>
      <section className="card" data-testid="compute">
        <div className="section-head">
          <h2>Where compute went</h2>
          <CsvButton filename="compute.csv" columns={computeColumns} rows={d.compute} />
        </div>
        {d.compute.length ? <DataTable testId="compute-table" caption="Runs, time and tokens per place and kind" columns={computeColumns} rows={d.compute} rowKey={(c) => `${c.target}/${c.kind}`} /> : <p className="empty">No runs in this range.</p>}
      </section>
      <section className="card" data-testid="run-history">
        <div className="section-head">
          <h2>Run history</h2>
          <CsvButton filename="runs.csv" columns={columns} rows={d.runs} />
        </div>
        {d.runsTruncated ? <p className="hint">Showing the latest {d.runs.length} runs; narrow the time range to see older ones.</p> : null}
        {d.runs.length ? <DataTable testId="run-table" caption="Runs, newest first" columns={columns} rows={d.runs} rowKey={(r) => r.id} /> : <p className="empty">No runs in this range.</p>}
      </section>
    </>
  );
}

export default function Page() {
  return (
    <Suspense fallback={<Loading what="dashboard" />}>
      <DashboardPage />
    </Suspense>
  );
}
