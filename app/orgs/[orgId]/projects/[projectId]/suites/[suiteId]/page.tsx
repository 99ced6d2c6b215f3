"use client";
import Link from "next/link";
import { useParams, usePathname, useRouter, useSearchParams } from "next/navigation";
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSession } from "next-auth/react";
import { Suspense, useMemo, useState, type FormEvent } from "react";
import { useTRPC, useTRPCClient } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { downloadText, duration, percent, ProjectCrumbs, Section, TabBar, useProjectAccess } from "@/app/_components/records";
import { NeedsReviewBadge, SuiteEditor, useCaseReviewFlags, useLiveCases, type CaseReviewFlag } from "@/app/_components/collab/SuiteEditor";
import { useCollabDoc, type CollabSession } from "@/app/_components/collab/useCollabDoc";
import { DocumentHistory } from "@/app/_components/collab/DocumentHistory";
import { ImportDialog } from "@/app/_components/suites/ImportDialog";
import { NEEDS_REVIEW_TAG } from "@/gpu/eval/formats/report";
import { validateSuiteCases } from "@/gpu/eval/validate";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";
import type { DraftCase } from "@/contracts/collab-doc";
import { roleAtLeast } from "@/contracts/roles";

// The cases editor: live co-editing (API clients use suite.setCases and suite.importCases, which edit the same live document).
const CasesEditor = SuiteEditor;

const TABS = [
  { id: "cases", label: "Cases" },
  { id: "versions", label: "Versions" },
  { id: "runs", label: "Runs" },
  { id: "settings", label: "Settings" },
  { id: "history", label: "History" },
] as const;
type Tab = (typeof TABS)[number]["id"];

type Problem = { index: number; caseId?: string; field: string; message: string };
type Thresholds = { overall?: number; tags?: Record<string, number>; countUncalibratedJudges?: boolean } | null;

function inputText(input: unknown): string {
  if (typeof input === "string") return input;
  if (Array.isArray(input)) return input.map((m) => `${(m as { role?: string }).role ?? "?"}: ${(m as { content?: string }).content ?? ""}`).join("\n");
  return input === undefined ? "" : JSON.stringify(input);
}
const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

function SuitePage() {
  const { orgId, projectId, suiteId } = useParams<{ orgId: string; projectId: string; suiteId: string }>();
  const params = useSearchParams();
  const pathname = usePathname();
  const access = useProjectAccess(projectId);
  const suite = useSuiteQuery(suiteId);
  const tab = (TABS.find((t) => t.id === params.get("tab"))?.id ?? "cases") as Tab;

  if (suite.isLoading) return <Loading what="suite" />;
  if (suite.error) return <ErrorAlert error={suite.error} />;
  return <LiveSuite suite={suite.data!} tab={tab} orgId={orgId} projectId={projectId} suiteId={suiteId} pathname={pathname} readOnlyNotice={!access.canEdit && !!access.role} />;
}

type SuiteData = NonNullable<ReturnType<typeof useSuiteQuery>["data"]>;
function useSuiteQuery(suiteId: string) {
  const trpc = useTRPC();
  return useQuery(trpc.suite.get.queryOptions({ suiteId }));
}

/**
 * The suite with its working copy read live from the co-edited document: the case list, its count and
 * its problems follow every editor's changes as they happen (the query's copy shows until it loads).
 */
function LiveSuite({ suite: s, tab, orgId, projectId, suiteId, pathname, readOnlyNotice }: { suite: SuiteData; tab: Tab; orgId: string; projectId: string; suiteId: string; pathname: string; readOnlyNotice: boolean }) {
  const canEdit = roleAtLeast(s.role, "EDITOR");
  const latest = s.versions[0] ?? null;
  const session = useSession();
  const user = { name: session.data?.user?.name ?? "", email: session.data?.user?.email ?? "" };
  const collab = useCollabDoc(`suite:${suiteId}`, user, canEdit);
  const live = useLiveCases(collab);
  const cases = (live ?? s.draft) as DraftCase[];
  const problems = live ? (validateLiveCases(live) as Problem[]) : (s.problems as Problem[]);
  const flags = useCaseReviewFlags(suiteId);

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Eval suites" sectionHref={`/orgs/${orgId}/projects/${projectId}/suites`} />
      <div className="page-header">
        <div>
          <h1 data-testid="suite-name">{s.name}</h1>
          <p className="subtitle">
            <span data-testid="suite-case-count">
              {cases.length} case{cases.length === 1 ? "" : "s"}
            </span>{" "}
            in the working copy · {latest ? `latest version ${latest.version}` : "not published yet"}
          </p>
        </div>
      </div>
      {readOnlyNotice ? <div className="alert alert-info">You have read-only access to this suite.</div> : null}
      <TabBar label="Suite" tabs={TABS} current={tab} hrefFor={(id) => `${pathname}?tab=${id}`} />
      {tab === "cases" ? (
        <>
          <CasesTable cases={cases} problems={problems} flags={flags} />
          {canEdit ? <ImportDialog suiteId={suiteId} /> : null}
          {canEdit ? <PublishSuite suiteId={suiteId} latest={latest?.version ?? null} problemCount={problems.length} reviewIds={cases.filter((c) => strings(c.tags).includes(NEEDS_REVIEW_TAG)).map((c) => String(c.id))} /> : null}
          <EditCases session={collab} projectId={projectId} suiteId={suiteId} canEdit={canEdit} />
        </>
      ) : null}
      {tab === "versions" ? <SuiteVersions versions={s.versions} suiteName={s.name} /> : null}
      {tab === "runs" ? <SuiteRuns projectId={projectId} orgId={orgId} suiteId={suiteId} versions={s.versions} /> : null}
      {tab === "settings" ? <SuiteSettings suiteId={suiteId} canEdit={canEdit} thresholds={s.thresholds as Thresholds} cases={cases} /> : null}
      {tab === "history" ? <DocumentHistory suiteId={suiteId} /> : null}
    </>
  );
}

function CasesTable({ cases, problems, flags }: { cases: DraftCase[]; problems: Problem[]; flags: Map<string, CaseReviewFlag[]> }) {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const q = params.get("q") ?? "";
  const tag = params.get("tag") ?? "";
  const clause = params.get("clause") ?? "";
  const allTags = useMemo(() => [...new Set(cases.flatMap((c) => strings(c.tags)))].sort(), [cases]);
  const allClauses = useMemo(() => [...new Set(cases.flatMap((c) => strings(c.clauses)))].sort(), [cases]);
  const problemsByIndex = useMemo(() => {
    const map = new Map<number, Problem[]>();
    for (const p of problems) map.set(p.index, [...(map.get(p.index) ?? []), p]);
    return map;
  }, [problems]);
  const needle = q.trim().toLowerCase();
  const rows = cases
    .map((c, index) => ({ c, index }))
    .filter(({ c }) => !tag || strings(c.tags).includes(tag))
    .filter(({ c }) => !clause || strings(c.clauses).includes(clause))
    .filter(({ c }) => !needle || [String(c.id ?? ""), inputText(c.input), String(c.expected ?? "")].some((t) => t.toLowerCase().includes(needle)));

  function setParam(key: string, value: string) {
    const next = new URLSearchParams(params.toString());
    if (value) next.set(key, value);
    else next.delete(key);
    router.replace(`${pathname}?${next.toString()}`, { scroll: false });
  }

  return (
    <Section title="Cases">
      {problems.length ? (
        <div className="alert alert-error" role="alert" data-testid="case-problems">
          {problems.length} problem{problems.length === 1 ? "" : "s"} to fix before publishing; they are shown on each case below.
        </div>
      ) : null}
      {flags.size ? (
        <div className="alert alert-warn" data-testid="cases-need-review">
          {flags.size} case{flags.size === 1 ? " needs" : "s need"} review: a policy version changed or removed a clause {flags.size === 1 ? "it cites" : "they cite"}. Open the editor to see the change and mark each one reviewed.
        </div>
      ) : null}
      <div className="inline">
        <label className="field grow">
          Search
          <input type="search" defaultValue={q} placeholder="id, input or expected" onChange={(e) => setParam("q", e.target.value)} aria-label="Search cases" />
        </label>
        <label className="field">
          Tag
          <select value={tag} onChange={(e) => setParam("tag", e.target.value)}>
            <option value="">any</option>
            {allTags.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label className="field">
          Clause
          <select value={clause} onChange={(e) => setParam("clause", e.target.value)}>
            <option value="">any</option>
            {allClauses.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
      </div>
      <p className="hint" data-testid="case-count">
        Showing {rows.length} of {cases.length} cases.
      </p>
      {cases.length === 0 ? (
        <p className="empty">No cases yet: import a file or add them in the editor below.</p>
      ) : (
        <div className="scroll-x">
          <table className="table" data-testid="cases">
            <thead>
              <tr>
                <th>Id</th>
                <th>Input</th>
                <th>Expected</th>
                <th>Graders</th>
                <th>Tags</th>
                <th>Clauses</th>
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, 500).map(({ c, index }) => (
                <tr key={index}>
                  <td className="mono">
                    {String(c.id ?? `#${index + 1}`)}
                    <div>
                      <NeedsReviewBadge flags={flags.get(String(c.id))} />
                    </div>
                    {problemsByIndex.get(index)?.map((p, i) => (
                      <div key={i} className="problem">
                        {p.field}: {p.message}
                      </div>
                    ))}
                  </td>
                  <td>
                    <pre className="cell-text">{inputText(c.input)}</pre>
                  </td>
                  <td>
                    <pre className="cell-text">{typeof c.expected === "string" ? c.expected : strings(c.choices).join(" | ")}</pre>
                  </td>
                  <td className="hint">{Array.isArray(c.graders) ? c.graders.map((g) => (g as { type?: string }).type).join(", ") : ""}</td>
                  <td>
                    {strings(c.tags).map((t) => (
                      <span key={t} className="badge">
                        {t}
                      </span>
                    ))}
                  </td>
                  <td className="mono hint">{strings(c.clauses).join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > 500 ? <p className="hint">First 500 shown; narrow the search to see others.</p> : null}
        </div>
      )}
    </Section>
  );
}

function PublishSuite({ suiteId, latest, problemCount, reviewIds }: { suiteId: string; latest: number | null; problemCount: number; reviewIds: string[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [preview, setPreview] = useState(false);
  const diff = useQuery({ ...trpc.suite.diff.queryOptions({ suiteId, from: latest ?? "empty", to: "draft" }), enabled: preview });
  const publish = useMutation(
    trpc.suite.publish.mutationOptions({
      onSuccess: () => {
        setPreview(false);
        return queryClient.invalidateQueries({ queryKey: trpc.suite.pathKey() });
      },
    }),
  );
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    publish.mutate({ suiteId, message: String(new FormData(event.currentTarget).get("message")) });
  }
  const changes = diff.data ?? [];
  return (
    <Section title="Publish">
      {publish.isSuccess ? (
        <div className="alert alert-ok" data-testid="publish-result">
          Published version {publish.data.version} with {publish.data.caseCount} cases.
          {publish.data.needsReview.length ? ` ${publish.data.needsReview.length} of them are tagged needs-review: their verdicts may differ from the tool they were imported from.` : ""}
        </div>
      ) : null}
      {!preview ? (
        <button
          className="btn"
          onClick={() => {
            publish.reset();
            setPreview(true);
          }}
        >
          Review changes and publish
        </button>
      ) : (
        <div className="stack">
          <p className="hint">Changes since {latest ? `version ${latest}` : "nothing (first version)"}:</p>
          <ErrorAlert error={diff.error} />
          {diff.isLoading ? (
            <Loading what="changes" />
          ) : changes.length === 0 ? (
            <p className="muted">No changes since the latest version.</p>
          ) : (
            <table className="table" data-testid="suite-diff">
              <thead>
                <tr>
                  <th>Case</th>
                  <th>Change</th>
                  <th>Fields</th>
                </tr>
              </thead>
              <tbody>
                {changes.slice(0, 200).map((c) => (
                  <tr key={c.caseId} className={`change-${c.change}`}>
                    <td className="mono">{c.caseId}</td>
                    <td>
                      <span className={`badge ${c.change === "added" ? "badge-ok" : c.change === "removed" ? "badge-danger" : "badge-warn"}`}>{c.change}</span>
                    </td>
                    <td className="hint">{c.fields.join(", ")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {changes.length > 200 ? <p className="hint">…and {changes.length - 200} more.</p> : null}
          {reviewIds.length ? (
            <div className="alert alert-warn" data-testid="publish-review-warning">
              {reviewIds.length} case{reviewIds.length === 1 ? " is" : "s are"} tagged needs-review: an import could not honour a field of {reviewIds.length === 1 ? "it" : "them"}, so the verdict may differ from the source tool&apos;s ({reviewIds.slice(0, 10).join(", ")}{reviewIds.length > 10 ? ", …" : ""}). Review them, remove the tag, or publish knowing this.
            </div>
          ) : null}
          {problemCount ? <div className="alert alert-error">Fix the {problemCount} problem(s) shown in the cases table first.</div> : null}
          <ErrorAlert error={publish.error && !fieldError(publish.error, "message") ? publish.error : null} />
          <form className="inline" onSubmit={onSubmit}>
            <label className="field grow">
              Message
              <input name="message" required maxLength={500} placeholder="What changed and why" />
              <span className="field-error">{fieldError(publish.error, "message")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={publish.isPending}>
              Publish version {(latest ?? 0) + 1}
            </button>
            <button className="btn" type="button" onClick={() => setPreview(false)}>
              Cancel
            </button>
          </form>
        </div>
      )}
    </Section>
  );
}

/** The live editor's problems, from the same validation publishing applies. */
const validateLiveCases = (cases: readonly unknown[]) => validateSuiteCases(cases).map((p) => ({ ...p, caseId: p.caseId ?? `#${p.index + 1}` }));

function EditCases({ session, projectId, suiteId, canEdit }: { session: CollabSession | null; projectId: string; suiteId: string; canEdit: boolean }) {
  const [open, setOpen] = useState(false);
  return (
    <Section
      title={canEdit ? "Edit cases" : "Cases source"}
      actions={
        <button className="btn btn-small" onClick={() => setOpen(!open)} aria-expanded={open}>
          {open ? "Hide" : "Show editor"}
        </button>
      }
    >
      {open ? <CasesEditor session={session} projectId={projectId} suiteId={suiteId} validate={validateLiveCases} /> : <p className="hint">The working copy, case by case.</p>}
    </Section>
  );
}

type VersionRow = { id: string; version: number; caseCount: number; sha256: string; message: string; createdAt: Date | string };

function SuiteVersions({ versions, suiteName }: { versions: VersionRow[]; suiteName: string }) {
  const client = useTRPCClient();
  const [error, setError] = useState<unknown>(null);
  async function exportVersion(v: VersionRow, format: "hearth-jsonl" | "promptfoo-yaml" | "inspect-jsonl") {
    setError(null);
    try {
      const file = await client.suite.exportVersion.query({ suiteVersionId: v.id, format });
      downloadText(file.filename, file.content, format === "promptfoo-yaml" ? "application/yaml" : "application/jsonl");
    } catch (e) {
      setError(e);
    }
  }
  return (
    <Section title="Versions">
      <ErrorAlert error={error} />
      {versions.length === 0 ? (
        <p className="empty">Nothing published yet.</p>
      ) : (
        <table className="table" data-testid="suite-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Message</th>
              <th>Cases</th>
              <th>Published</th>
              <th>sha256</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={v.id}>
                <td>v{v.version}</td>
                <td>{v.message}</td>
                <td>{v.caseCount}</td>
                <td>{formatDate(v.createdAt)}</td>
                <td className="mono" title={v.sha256}>
                  {v.sha256.slice(0, 12)}
                </td>
                <td>
                  <button className="btn btn-small" onClick={() => exportVersion(v, "hearth-jsonl")} title={`Download ${suiteName} v${v.version} as Hearth JSONL`}>
                    Export .jsonl
                  </button>{" "}
                  <button className="btn btn-small" onClick={() => exportVersion(v, "promptfoo-yaml")} title={`Download ${suiteName} v${v.version} as a promptfoo config`}>
                    promptfoo YAML
                  </button>{" "}
                  <button className="btn btn-small" onClick={() => exportVersion(v, "inspect-jsonl")} title={`Download ${suiteName} v${v.version} as inspect_ai samples`}>
                    inspect JSONL
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}

type RunSummary = { passRate?: number; passed?: number; graded?: number } | null;

const RUNS_PAGE = 100;

function SuiteRuns({ orgId, projectId, suiteId, versions }: { orgId: string; projectId: string; suiteId: string; versions: VersionRow[] }) {
  const trpc = useTRPC();
  // The server picks this suite's runs: filtering the project's newest runs here would lose older ones.
  const runs = useInfiniteQuery(
    trpc.run.list.infiniteQueryOptions({ projectId, kind: "EVAL", suiteId, limit: RUNS_PAGE }, { getNextPageParam: (page) => (page.length === RUNS_PAGE ? page[page.length - 1].id : undefined) }),
  );
  const byId = new Map(versions.map((v) => [v.id, v.version]));
  const rows = runs.data?.pages.flat() ?? [];
  return (
    <Section title="Runs of this suite">
      <ErrorAlert error={runs.error} />
      {runs.isLoading ? (
        <Loading what="runs" />
      ) : rows.length === 0 ? (
        <p className="empty">No eval runs of this suite yet.</p>
      ) : (
        <table className="table" data-testid="suite-runs">
          <thead>
            <tr>
              <th>Run</th>
              <th>Version</th>
              <th>Status</th>
              <th>Pass rate</th>
              <th>Created</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const summary = r.summary as RunSummary;
              return (
                <tr key={r.id}>
                  <td>
                    <Link href={`/orgs/${orgId}/projects/${projectId}/runs/${r.id}`} className="mono">
                      {r.id.slice(0, 10)}
                    </Link>
                  </td>
                  <td>v{byId.get(r.suiteVersionId!)}</td>
                  <td>
                    <RunStatusBadge status={r.status} />
                  </td>
                  <td>
                    {percent(summary?.passRate)}
                    {summary?.graded !== undefined ? <span className="hint"> ({summary.passed}/{summary.graded})</span> : null}
                  </td>
                  <td>{formatDate(r.createdAt)}</td>
                  <td>{duration(r.startedAt, r.finishedAt)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {runs.hasNextPage ? (
        <button className="btn" onClick={() => runs.fetchNextPage()} disabled={runs.isFetchingNextPage}>
          {runs.isFetchingNextPage ? "Loading…" : "Load older runs"}
        </button>
      ) : null}
    </Section>
  );
}

function SuiteSettings({ suiteId, canEdit, thresholds, cases }: { suiteId: string; canEdit: boolean; thresholds: Thresholds; cases: DraftCase[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tags = [...new Set([...cases.flatMap((c) => strings(c.tags)), ...Object.keys(thresholds?.tags ?? {})])].sort();
  const update = useMutation(trpc.suite.update.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.suite.pathKey() }) }));
  const [localError, setLocalError] = useState<string | null>(null);
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const read = (key: string): number | undefined | null => {
      const raw = String(form.get(key) ?? "").trim();
      if (!raw) return undefined;
      const value = Number(raw) / 100;
      return Number.isFinite(value) && value >= 0 && value <= 1 ? value : null;
    };
    const overall = read("overall");
    const perTag: Record<string, number> = {};
    for (const tag of tags) {
      const value = read(`tag:${tag}`);
      if (value === null) return setLocalError(`The threshold for "${tag}" must be a percentage between 0 and 100.`);
      if (value !== undefined) perTag[tag] = value;
    }
    if (overall === null) return setLocalError("The overall threshold must be a percentage between 0 and 100.");
    setLocalError(null);
    const countUncalibratedJudges = form.get("countUncalibratedJudges") === "on";
    update.mutate({ suiteId, thresholds: { ...(overall !== undefined ? { overall } : {}), tags: perTag, ...(countUncalibratedJudges ? { countUncalibratedJudges } : {}) } });
  }
  const asPercent = (v: number | undefined) => (v === undefined ? "" : String(Math.round(v * 1000) / 10));
  return (
    <Section title="Release thresholds">
      <p className="hint">A model version passes the gate when its pass rate reaches these thresholds (leave empty for none).</p>
      {localError ? (
        <div className="alert alert-error" role="alert">
          {localError}
        </div>
      ) : null}
      <ErrorAlert error={update.error} />
      {update.isSuccess ? <div className="alert alert-ok">Thresholds saved.</div> : null}
      <form className="stack" onSubmit={onSubmit}>
        <label className="field">
          Overall pass rate (%)
          <input name="overall" type="number" min={0} max={100} step={0.1} defaultValue={asPercent(thresholds?.overall)} disabled={!canEdit} />
        </label>
        {tags.length ? <h3>Per tag</h3> : null}
        {tags.map((tag) => (
          <label key={tag} className="field">
            {tag} (%)
            <input name={`tag:${tag}`} type="number" min={0} max={100} step={0.1} defaultValue={asPercent(thresholds?.tags?.[tag])} disabled={!canEdit} />
          </label>
        ))}
        <label className="field-inline">
          <input name="countUncalibratedJudges" type="checkbox" defaultChecked={thresholds?.countUncalibratedJudges === true} disabled={!canEdit} />
          Count the verdicts of judges people have not calibrated (an admin's choice; off, the gate reports such a run as not evaluable)
        </label>
        {canEdit ? (
          <div>
            <button className="btn btn-primary" type="submit" disabled={update.isPending}>
              Save thresholds
            </button>
          </div>
        ) : null}
      </form>
    </Section>
  );
}

export default function Page() {
  return (
    <Suspense fallback={<Loading what="suite" />}>
      <SuitePage />
    </Suspense>
  );
}
