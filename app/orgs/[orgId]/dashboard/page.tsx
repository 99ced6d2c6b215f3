"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import { useTRPC } from "@/app/_lib/trpc";
import type { AppRouter } from "@/server/trpc/root";
import { ErrorAlert, Loading } from "@/app/_components/ui";
import { percent } from "@/app/_components/records";
import { CsvButton, DataTable, type Column } from "@/app/_components/charts/Table";

type Overview = inferRouterOutputs<AppRouter>["dashboard"]["org"];
type Row = Overview["production"][number] & { suite: Overview["production"][number]["suites"][number] | null; projectName: string };

function change(value: number | null) {
  if (value === null) return "—";
  const pts = value * 100;
  return `${pts > 0 ? "+" : pts < 0 ? "−" : "±"}${Math.abs(pts).toFixed(1)} pts`;
}

export default function OrgDashboardPage() {
  const { orgId } = useParams<{ orgId: string }>();
  const trpc = useTRPC();
  const overview = useQuery(trpc.dashboard.org.queryOptions({ orgId }));
  if (overview.isLoading) return <Loading what="overview" />;
  if (overview.error) return <ErrorAlert error={overview.error} />;
  const o = overview.data!;
  const projectName = new Map(o.projects.map((p) => [p.id, p.name]));
  const rows: Row[] = o.production.flatMap((m): Row[] => (m.suites.length ? m.suites.map((suite) => ({ ...m, suite, projectName: projectName.get(m.projectId) ?? "" })) : [{ ...m, suite: null, projectName: projectName.get(m.projectId) ?? "" }]));
  const columns: Column<Row>[] = [
    { label: "Project", value: (r) => r.projectName, render: (r) => <Link href={`/orgs/${orgId}/projects/${r.projectId}/dashboard`}>{r.projectName}</Link> },
    { label: "Model", value: (r) => r.modelName },
    { label: "Production", value: (r) => `v${r.version}` },
    { label: "Previous", value: (r) => (r.previousVersion === null ? null : `v${r.previousVersion}`) },
    { label: "Suite", value: (r) => r.suite?.suiteName ?? null },
    { label: "Score", value: (r) => r.suite?.passRate ?? null, render: (r) => percent(r.suite?.passRate), numeric: true },
    { label: "Change", value: (r) => r.suite?.change ?? null, render: (r) => <span className={r.suite?.change != null && r.suite.change < 0 ? "text-danger" : r.suite?.change ? "text-ok" : undefined}>{change(r.suite?.change ?? null)}</span>, numeric: true },
    { label: "Gate", value: (r) => (r.suite?.threshold == null ? null : r.suite.gateFailing ? "failing" : "passing"), render: (r) => (r.suite?.threshold == null ? "—" : r.suite.gateFailing ? <span className="badge badge-danger">below {percent(r.suite.threshold)}</span> : <span className="badge badge-ok">passing</span>) },
  ];
  type Project = Overview["projects"][number];
  const projectColumns: Column<Project>[] = [
    { label: "Project", value: (p) => p.name, render: (p) => <Link href={`/orgs/${orgId}/projects/${p.id}/dashboard`}>{p.name}</Link> },
    { label: "Runs this week", value: (p) => p.runsThisWeek, numeric: true },
    { label: "Failed this week", value: (p) => p.failedRunsThisWeek, numeric: true },
  ];
  return (
    <>
      <div className="page-header">
        <div>
          <h1>Overview</h1>
          <p className="subtitle">The model each project runs in production, how it scores, and what changed since the previous production version.</p>
        </div>
      </div>
      <div className="stats card">
        <div className="stat" data-testid="runs-this-week">
          <b>{o.runsThisWeek}</b>
          <span>runs this week</span>
        </div>
        <div className="stat" data-testid="failing-gates">
          <b className={o.failingGates.length ? "text-danger" : undefined}>{o.failingGates.length}</b>
          <span>failing gates</span>
        </div>
        <div className="stat" data-testid="nodes-online">
          <b>{o.nodes.registered === 0 ? "none registered" : o.nodes.online}</b>
          <span>GPU nodes online</span>
        </div>
        <div className="stat">
          <b>{o.production.length}</b>
          <span>models in production</span>
        </div>
      </div>
      <section className="card">
        <div className="section-head">
          <h2>Production models</h2>
          <CsvButton filename="production.csv" columns={columns} rows={rows} />
        </div>
        <p className="hint">Score: pass rate of the version&apos;s latest successful eval run on the latest suite version it was evaluated on. Change: against the previous production version. Gate: the suite&apos;s overall threshold.</p>
        {rows.length ? <DataTable testId="production-table" caption="Production version per model and suite" columns={columns} rows={rows} rowKey={(r) => `${r.modelId}/${r.suite?.suiteId ?? ""}`} /> : <p className="empty">No model has a production version yet.</p>}
      </section>
      <section className="card">
        <div className="section-head">
          <h2>Projects</h2>
          <CsvButton filename="projects.csv" columns={projectColumns} rows={o.projects} />
        </div>
        <DataTable testId="project-table" caption="Runs in the last 7 days" columns={projectColumns} rows={o.projects} rowKey={(p) => p.id} />
      </section>
    </>
  );
}
