"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { percent, ProjectCrumbs, Section } from "@/app/_components/records";
import { LineageGraph } from "@/app/_components/LineageGraph";
import { SuiteVersionPicker } from "@/app/_components/pickers";
import { EvaluatePanel } from "@/app/_components/train/EvaluatePanel";
import { roleAtLeast } from "@/contracts/roles";
import { FolderFiles, FolderImport, FolderSummary } from "@/app/_components/models/FolderImport";
import { isFolderDescription } from "@/contracts/model-folder";

type GateReport = {
  pass: boolean;
  checks: { name: string; required: number; actual: number | null; pass: boolean; cases: number }[];
  candidate: { passRate: number; cases: number };
  baseline: { passRate: number; cases: number } | null;
  regressions: { caseId: string; baselineScore: number; candidateScore: number }[];
  improvements: { caseId: string; baselineScore: number; candidateScore: number }[];
};

export default function ModelPage() {
  const { orgId, projectId, modelId } = useParams<{ orgId: string; projectId: string; modelId: string }>();
  const trpc = useTRPC();
  const model = useQuery(trpc.model.get.queryOptions({ modelId }));
  const queryClient = useQueryClient();
  const members = useQuery(trpc.member.list.queryOptions({ orgId }));
  const [selected, setSelected] = useState<string | null>(null);
  const [evaluating, setEvaluating] = useState<string | null>(null);

  if (model.isLoading) return <Loading what="model" />;
  if (model.error) return <ErrorAlert error={model.error} />;
  const m = model.data!;
  const canEdit = roleAtLeast(m.role, "EDITOR");
  const canApprove = roleAtLeast(m.role, "ADMIN");
  const aliasesOf = (id: string) => m.aliases.filter((a) => a.modelVersionId === id).map((a) => a.name);
  const versionLabel = new Map(m.versions.map((v) => [v.id, `v${v.version}`]));
  const people = new Map((members.data ?? []).map((mm) => [mm.user.id, mm.user.name || mm.user.email]));
  // One column per suite any version was measured on; each cell the version's latest score there.
  const suites = [...new Map(m.scores.map((s) => [s.suiteId, s.suiteName])).entries()].sort(([, a], [, b]) => a.localeCompare(b));
  const scoreOf = new Map(m.scores.map((s) => [`${s.modelVersionId}:${s.suiteId}`, s]));

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Models" sectionHref={`/orgs/${orgId}/projects/${projectId}/models`} />
      <div className="page-header">
        <div>
          <h1 data-testid="model-name">{m.name}</h1>
          <p className="subtitle">
            {m.versions.length} version{m.versions.length === 1 ? "" : "s"} ·{" "}
            {m.aliases.length ? m.aliases.map((a) => `${a.name} → ${versionLabel.get(a.modelVersionId) ?? "?"}`).join(", ") : "no aliases"}
          </p>
        </div>
      </div>
      <Section title="Lineage">
        <LineageGraph nodes={m.versions.map((v) => ({ id: v.id, version: v.version, parentId: v.parentId, aliases: aliasesOf(v.id) }))} selectedId={selected} onSelect={setSelected} />
      </Section>
      <Section title="Versions" actions={canEdit ? <FolderImport modelId={modelId} onImported={() => void queryClient.invalidateQueries({ queryKey: trpc.model.get.queryKey({ modelId }) })} /> : undefined}>
        {m.versions.length === 0 ? (
          <p className="empty">No versions yet. Import a Hugging Face folder, train one, or push one with npx hearth model push.</p>
        ) : (
          <table className="table" data-testid="model-versions">
            <thead>
              <tr>
                <th>Version</th>
                <th>Aliases</th>
                <th>Parent</th>
                <th>Run</th>
                {suites.map(([id, name]) => (
                  <th key={id} title={`The latest successful eval run of ${name}`}>
                    {name}
                  </th>
                ))}
                <th>Model</th>
                <th>Created</th>
                {canEdit ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {[...m.versions].reverse().map((v) => (
                <tr key={v.id} className={v.id === selected ? "selected" : undefined} onClick={() => setSelected(v.id)}>
                  <td>
                    <b>v{v.version}</b> <span className="mono hint">{v.id.slice(0, 10)}</span>
                  </td>
                  <td>
                    {aliasesOf(v.id).map((a) => (
                      <span key={a} className={`badge ${a === "production" ? "badge-owner" : "badge-admin"}`}>
                        {a}
                      </span>
                    ))}
                  </td>
                  <td>{v.parentId ? (versionLabel.get(v.parentId) ?? <span className="mono hint">{v.parentId.slice(0, 10)}</span>) : "—"}</td>
                  <td>
                    {v.runId ? (
                      <Link className="mono" href={`/orgs/${orgId}/projects/${projectId}/runs/${v.runId}`}>
                        {v.runId.slice(0, 10)}
                      </Link>
                    ) : (
                      "—"
                    )}
                  </td>
                  {suites.map(([id]) => {
                    const score = scoreOf.get(`${v.id}:${id}`);
                    return (
                      <td key={id} data-testid="version-score">
                        {score ? (
                          <Link href={`/orgs/${orgId}/projects/${projectId}/runs/${score.runId}`} title={`${score.passed} of ${score.cases} cases passed on suite version ${score.suiteVersion}`}>
                            {percent(score.cases ? score.passed / score.cases : null)}
                          </Link>
                        ) : (
                          <span className="muted">not run</span>
                        )}
                        {score ? <div className="hint">suite v{score.suiteVersion}</div> : null}
                      </td>
                    );
                  })}
                  <td className={isFolderDescription(v.config) ? undefined : "mono hint"}>
                    {isFolderDescription(v.config) ? (
                      <>
                        <FolderSummary d={v.config} /> <span className="hint">{v.sizeBytes !== null ? `${(v.sizeBytes / 1e6).toFixed(1)} MB` : ""}</span> <FolderFiles modelVersionId={v.id} />{" "}
                        <a className="btn btn-small" href={`/api/model-versions/${encodeURIComponent(v.id)}/artifact`} download data-testid="download-folder" title="The whole folder as one tar archive (tar -xf unpacks it); npx hearth model pull writes it file by file">
                          Download folder (.tar)
                        </a>
                      </>
                    ) : (
                      <>
                        {v.artifactSha256 ? v.artifactSha256.slice(0, 12) : "—"}
                        {v.sizeBytes !== null ? ` · ${(v.sizeBytes / 1e6).toFixed(1)} MB` : ""}
                        {v.artifactSha256 ? (
                          <>
                            {" "}
                            <a className="btn btn-small" href={`/api/model-versions/${encodeURIComponent(v.id)}/artifact`} download data-testid="download-checkpoint" title="The checkpoint file (safetensors, config and tokenizer in its header)">
                              Download .safetensors
                            </a>
                          </>
                        ) : null}
                      </>
                    )}
                  </td>
                  <td>{formatDate(v.createdAt)}</td>
                  {canEdit ? (
                    <td>
                      {v.artifactSha256 || isFolderDescription(v.config) ? (
                        <button className="btn btn-small" onClick={() => setEvaluating(v.id)} aria-pressed={evaluating === v.id}>
                          Evaluate
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {evaluating ? <EvaluatePanel key={evaluating} orgId={orgId} projectId={projectId} modelVersionId={evaluating} title={`Evaluate ${versionLabel.get(evaluating) ?? "the version"}`} /> : null}
      <Promotions modelId={modelId} canApprove={canApprove} versionLabel={versionLabel} people={people} />
      {canEdit ? <RequestPromotion modelId={modelId} projectId={projectId} versions={m.versions} /> : null}
      <GateCheck modelId={modelId} projectId={projectId} versions={m.versions} aliases={m.aliases.map((a) => a.name)} />
    </>
  );
}

function Promotions({ modelId, canApprove, versionLabel, people }: { modelId: string; canApprove: boolean; versionLabel: Map<string, string>; people: Map<string, string> }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const promotions = useQuery(trpc.model.promotions.queryOptions({ modelId }));
  const refresh = () => Promise.all([queryClient.invalidateQueries({ queryKey: trpc.model.promotions.queryKey({ modelId }) }), queryClient.invalidateQueries({ queryKey: trpc.model.get.queryKey({ modelId }) })]);
  const approve = useMutation(trpc.model.approvePromotion.mutationOptions({ onSuccess: refresh }));
  const reject = useMutation(trpc.model.rejectPromotion.mutationOptions({ onSuccess: refresh }));
  return (
    <Section title="Promotions">
      <ErrorAlert error={promotions.error ?? approve.error ?? reject.error} />
      {approve.isSuccess ? <div className="alert alert-ok">Approved: the alias now points at the candidate.</div> : null}
      {promotions.isLoading ? (
        <Loading what="promotions" />
      ) : promotions.data?.length === 0 ? (
        <p className="empty">No promotion requests.</p>
      ) : (
        <table className="table" data-testid="promotions">
          <thead>
            <tr>
              <th>Alias</th>
              <th>Candidate</th>
              <th>Gate</th>
              <th>Requested</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {promotions.data?.map((p) => {
              const report = p.gateReport as unknown as GateReport;
              return (
                <tr key={p.id}>
                  <td>
                    <span className="badge badge-owner">{p.alias}</span>
                  </td>
                  <td>{versionLabel.get(p.modelVersionId) ?? p.modelVersionId.slice(0, 10)}</td>
                  <td>
                    {report?.pass ? <span className="badge badge-ok">passed</span> : <span className="badge badge-danger">failed</span>} {percent(report?.candidate?.passRate)}
                    {report?.regressions?.length ? <div className="hint">{report.regressions.length} regression(s)</div> : null}
                  </td>
                  <td>
                    {people.get(p.requestedById) ?? p.requestedById.slice(0, 10)}
                    <div className="hint">{formatDate(p.createdAt)}</div>
                  </td>
                  <td>
                    <span className={`badge ${p.status === "APPROVED" ? "badge-ok" : p.status === "REJECTED" ? "badge-danger" : "badge-warn"}`} data-testid="promotion-status">
                      {p.status}
                    </span>
                    {p.decidedById ? <div className="hint">by {people.get(p.decidedById) ?? p.decidedById.slice(0, 10)}</div> : null}
                  </td>
                  <td>
                    {canApprove && p.status === "PENDING" ? (
                      <div className="row">
                        <button className="btn btn-small btn-primary" disabled={approve.isPending} onClick={() => { reject.reset(); approve.mutate({ promotionId: p.id }); }}>
                          Approve
                        </button>
                        <button className="btn btn-small btn-danger" disabled={reject.isPending} onClick={() => { approve.reset(); reject.mutate({ promotionId: p.id }); }}>
                          Reject
                        </button>
                      </div>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {!canApprove ? <p className="hint">An ADMIN or OWNER other than the requester approves promotions.</p> : null}
    </Section>
  );
}

type VersionOption = { id: string; version: number };

function RequestPromotion({ modelId, projectId, versions }: { modelId: string; projectId: string; versions: VersionOption[] }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [suiteVersionId, setSuiteVersionId] = useState("");
  const request = useMutation(trpc.model.requestPromotion.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.model.promotions.queryKey({ modelId }) }) }));
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    request.mutate({ modelId, alias: String(form.get("alias")), modelVersionId: String(form.get("candidate")), suiteVersionId });
  }
  return (
    <Section title="Request promotion">
      <p className="hint">The gate checks the suite's thresholds on the candidate's latest eval run, and compares with the alias's current version; a second admin then approves.</p>
      <ErrorAlert error={request.error} />
      {request.isSuccess ? <div className="alert alert-ok" data-testid="promotion-requested">Requested: the gate passed; waiting for a second admin's approval.</div> : null}
      <form className="inline" onSubmit={onSubmit}>
        <label className="field">
          Alias
          <input name="alias" required defaultValue="production" pattern="[a-z][a-z0-9\-]{0,31}" />
        </label>
        <CandidateSelect versions={versions} />
        <SuiteVersionPicker projectId={projectId} value={suiteVersionId} onChange={setSuiteVersionId} />
        <button className="btn btn-primary" type="submit" disabled={request.isPending || !suiteVersionId}>
          {request.isPending ? "Checking the gate…" : "Request promotion"}
        </button>
      </form>
    </Section>
  );
}

/** The candidate model version of a promotion or gate check, newest first (form field "candidate"). */
function CandidateSelect({ versions }: { versions: VersionOption[] }) {
  return (
    <label className="field">
      Candidate
      <select name="candidate" required defaultValue="">
        <option value="" disabled>
          choose…
        </option>
        {[...versions].reverse().map((v) => (
          <option key={v.id} value={v.id}>
            v{v.version}
          </option>
        ))}
      </select>
    </label>
  );
}

function GateCheck({ modelId, projectId, versions, aliases }: { modelId: string; projectId: string; versions: VersionOption[]; aliases: string[] }) {
  const trpc = useTRPC();
  const [suiteVersionId, setSuiteVersionId] = useState("");
  const [input, setInput] = useState<{ candidateVersionId: string; baseline?: string; suiteVersionId: string } | null>(null);
  const gate = useQuery({ ...trpc.model.gate.queryOptions({ modelId, ...(input ?? { candidateVersionId: "", suiteVersionId: "" }) }), enabled: !!input, retry: false });
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const baseline = String(form.get("baseline") ?? "");
    setInput({ candidateVersionId: String(form.get("candidate")), suiteVersionId, ...(baseline ? { baseline } : {}) });
  }
  const report = gate.data;
  return (
    <Section title="Gate check">
      <form className="inline" onSubmit={onSubmit}>
        <CandidateSelect versions={versions} />
        <label className="field">
          Baseline
          <select name="baseline" defaultValue={aliases.includes("production") ? "production" : ""}>
            <option value="">none</option>
            {aliases.map((a) => (
              <option key={a} value={a}>
                alias {a}
              </option>
            ))}
            {[...versions].reverse().map((v) => (
              <option key={v.id} value={v.id}>
                v{v.version}
              </option>
            ))}
          </select>
        </label>
        <SuiteVersionPicker projectId={projectId} value={suiteVersionId} onChange={setSuiteVersionId} />
        <button className="btn" type="submit" disabled={!suiteVersionId}>
          Check
        </button>
      </form>
      <ErrorAlert error={gate.error} />
      {gate.isFetching ? <Loading what="gate report" /> : null}
      {report ? (
        <div data-testid="gate-report">
          <p>
            {report.pass ? <span className="badge badge-ok">gate passes</span> : <span className="badge badge-danger">gate fails</span>} candidate {percent(report.candidate.passRate)} over {report.candidate.cases} cases
            {report.baseline ? `; baseline ${percent(report.baseline.passRate)} over ${report.baseline.cases}` : "; no baseline run"}
          </p>
          {report.checks.length ? (
            <table className="table">
              <thead>
                <tr>
                  <th>Check</th>
                  <th>Required</th>
                  <th>Actual</th>
                  <th>Cases</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {report.checks.map((c) => (
                  <tr key={c.name}>
                    <td>{c.name}</td>
                    <td>{percent(c.required)}</td>
                    <td>{percent(c.actual)}</td>
                    <td>{c.cases}</td>
                    <td>{c.pass ? <span className="badge badge-ok">pass</span> : <span className="badge badge-danger">fail</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p className="hint">The suite has no thresholds; set them in the suite's Settings.</p>
          )}
          {report.regressions.length ? (
            <p>
              <b>{report.regressions.length} regression(s):</b> <span className="mono">{report.regressions.slice(0, 20).map((r) => r.caseId).join(", ")}</span>
            </p>
          ) : null}
          {report.improvements.length ? (
            <p>
              <b>{report.improvements.length} improvement(s):</b> <span className="mono">{report.improvements.slice(0, 20).map((r) => r.caseId).join(", ")}</span>
            </p>
          ) : null}
        </div>
      ) : null}
    </Section>
  );
}
