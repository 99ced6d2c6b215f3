"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { percent, ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";
import { SuiteVersionPicker } from "@/app/_components/pickers";

type CheckReport = { ok: boolean; status: number | null; models: string[]; servesModel: boolean; message: string };

export default function EndpointsPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const access = useProjectAccess(projectId);
  const canManage = access.canApprove; // OWNER or ADMIN
  const endpoints = useQuery(trpc.endpoint.list.queryOptions({ projectId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.endpoint.list.queryKey({ projectId }) });
  const [editing, setEditing] = useState<string | null>(null);
  const [checks, setChecks] = useState<Record<string, CheckReport>>({});
  const create = useMutation(trpc.endpoint.create.mutationOptions({ onSuccess: refresh }));
  const update = useMutation(trpc.endpoint.update.mutationOptions({ onSuccess: () => (setEditing(null), refresh()) }));
  const remove = useMutation(trpc.endpoint.delete.mutationOptions({ onSuccess: refresh }));
  const check = useMutation(trpc.endpoint.check.mutationOptions({ onSuccess: (report, input) => setChecks((c) => ({ ...c, [input.endpointId]: report })) }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const { fields, apiKey } = endpointFields(form);
    create.mutate({ projectId, ...fields, ...(apiKey ? { apiKey } : {}) }, { onSuccess: () => form.reset() });
  }

  function onUpdate(endpointId: string, event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const { fields, apiKey, removeKey } = endpointFields(event.currentTarget);
    update.mutate({ endpointId, ...fields, ...(removeKey ? { apiKey: null } : apiKey ? { apiKey } : {}) });
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Endpoints</h1>
          <p className="subtitle">OpenAI-compatible models this project evaluates from the server: external services, and Hearth&apos;s own serving API.</p>
        </div>
      </div>

      <ServingCard projectId={projectId} orgId={orgId} />

      <section className="card">
        <h2>Registered endpoints</h2>
        <ErrorAlert error={endpoints.error ?? remove.error ?? check.error} />
        {endpoints.isLoading ? (
          <Loading what="endpoints" />
        ) : endpoints.data?.length === 0 ? (
          <p className="empty">No endpoints yet.{canManage ? " Register one below." : " An ADMIN registers them."}</p>
        ) : (
          <table className="table" data-testid="endpoints">
            <thead>
              <tr>
                <th>Name</th>
                <th>Base URL</th>
                <th>Model</th>
                <th>Key</th>
                <th>Limits</th>
                <th>Changed</th>
                {canManage ? <th /> : null}
              </tr>
            </thead>
            <tbody>
              {endpoints.data?.map((e) =>
                editing === e.id ? (
                  <tr key={e.id}>
                    <td colSpan={canManage ? 7 : 6}>
                      <ErrorAlert error={update.error && !update.error.data?.fieldErrors ? update.error : null} />
                      <EndpointForm
                        error={update.error}
                        initial={e}
                        submitLabel="Save"
                        pending={update.isPending}
                        onSubmit={(event) => onUpdate(e.id, event)}
                        onCancel={() => setEditing(null)}
                      />
                    </td>
                  </tr>
                ) : (
                  <tr key={e.id}>
                    <td>{e.name}</td>
                    <td className="mono">{e.baseUrl}</td>
                    <td className="mono">{e.model}</td>
                    <td>{e.hasKey ? <span className="badge">encrypted</span> : <span className="muted">none</span>}</td>
                    <td className="muted">
                      {e.maxConcurrency} at once · {Math.round(e.timeoutMs / 1000)} s timeout
                    </td>
                    <td>{formatDate(e.updatedAt)}</td>
                    {canManage ? (
                      <td>
                        <div className="row" style={{ justifyContent: "flex-end" }}>
                          <button className="btn btn-small" disabled={check.isPending} onClick={() => check.mutate({ endpointId: e.id })}>
                            Check
                          </button>
                          <button className="btn btn-small" onClick={() => setEditing(e.id)}>
                            Edit
                          </button>
                          <button
                            className="btn btn-small btn-danger"
                            onClick={() => {
                              if (window.confirm(`Delete the endpoint "${e.name}"? Its stored key is deleted with it; past runs keep their results.`)) remove.mutate({ endpointId: e.id });
                            }}
                          >
                            Delete
                          </button>
                        </div>
                        {checks[e.id] ? (
                          <p className={`hint ${checks[e.id].ok ? "" : "field-error"}`} data-testid="endpoint-check">
                            {checks[e.id].message}
                            {checks[e.id].ok ? (checks[e.id].servesModel ? ` Serves ${e.model}.` : ` It does not list ${e.model}.`) : null}
                          </p>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        )}
      </section>

      {canManage ? (
        <Section title="Register an endpoint">
          <p className="hint">
            The server sends requests to this URL. Addresses inside your network (loopback, private ranges, cloud metadata) are refused unless the operator lists
            them in <code>HEARTH_ENDPOINT_ALLOWLIST</code>. The key is encrypted at rest and never shown again.
          </p>
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <EndpointForm error={create.error} submitLabel="Register endpoint" pending={create.isPending} onSubmit={onCreate} />
        </Section>
      ) : null}

      {access.canEdit && endpoints.data?.length ? <EvaluateCard orgId={orgId} projectId={projectId} endpoints={endpoints.data} /> : null}
    </>
  );
}

/** What the endpoint form holds; an empty key field means "no key" (new) or "keep it" (edit). */
function endpointFields(form: HTMLFormElement) {
  const data = new FormData(form);
  return {
    fields: {
      name: String(data.get("name")),
      baseUrl: String(data.get("baseUrl")),
      model: String(data.get("model")),
      maxConcurrency: Number(data.get("maxConcurrency")),
      timeoutMs: Number(data.get("timeoutSeconds")) * 1000,
    },
    apiKey: String(data.get("apiKey") ?? ""),
    removeKey: data.get("removeKey") !== null,
  };
}

function EndpointForm(props: {
  error: unknown;
  initial?: { name: string; baseUrl: string; model: string; maxConcurrency: number; timeoutMs: number; hasKey: boolean };
  submitLabel: string;
  pending: boolean;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
  onCancel?: () => void;
}) {
  const { error, initial } = props;
  return (
    <form className="stack" onSubmit={props.onSubmit} data-testid="endpoint-form">
      <div className="inline">
        <label className="field grow">
          Name
          <input name="name" required maxLength={80} defaultValue={initial?.name} placeholder="vendor-gpt" />
          <span className="field-error">{fieldError(error, "name")}</span>
        </label>
        <label className="field grow">
          Model
          <input name="model" required maxLength={200} defaultValue={initial?.model} placeholder="gpt-4o-mini" />
          <span className="field-error">{fieldError(error, "model")}</span>
        </label>
      </div>
      <label className="field">
        Base URL
        <input name="baseUrl" required maxLength={2000} defaultValue={initial?.baseUrl} placeholder="https://api.example.com/v1" />
        <span className="field-error">{fieldError(error, "baseUrl")}</span>
      </label>
      <div className="inline">
        <label className="field grow">
          API key
          <input name="apiKey" type="password" autoComplete="off" maxLength={4000} placeholder={initial?.hasKey ? "leave empty to keep the stored key" : "optional: sk-…"} />
          <span className="field-error">{fieldError(error, "apiKey")}</span>
        </label>
        <label className="field">
          At once
          <input name="maxConcurrency" type="number" min={1} max={64} required defaultValue={initial?.maxConcurrency ?? 4} />
          <span className="field-error">{fieldError(error, "maxConcurrency")}</span>
        </label>
        <label className="field">
          Timeout (s)
          <input name="timeoutSeconds" type="number" min={1} max={600} required defaultValue={initial ? Math.round(initial.timeoutMs / 1000) : 60} />
          <span className="field-error">{fieldError(error, "timeoutMs")}</span>
        </label>
      </div>
      {initial?.hasKey ? (
        <label className="row" style={{ gap: "0.35rem" }}>
          <input type="checkbox" name="removeKey" value="1" /> Remove the stored key
        </label>
      ) : null}
      <div className="row">
        <button className="btn btn-primary" type="submit" disabled={props.pending}>
          {props.submitLabel}
        </button>
        {props.onCancel ? (
          <button className="btn" type="button" onClick={props.onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}

/** Hearth's own serving API: where it is, what this project's models are called there. */
function ServingCard({ orgId, projectId }: { orgId: string; projectId: string }) {
  const trpc = useTRPC();
  const served = useQuery(trpc.endpoint.servedModels.queryOptions({ projectId }));
  const [origin, setOrigin] = useState("");
  useEffect(() => setOrigin(window.location.origin), []);
  const example = served.data?.[0]?.id ?? "<project>/<model>:latest";
  return (
    <Section title="Serve this project's models">
      <p className="hint">
        Any OpenAI client can call this project&apos;s model versions on your GPU nodes. Base URL <code data-testid="serving-base-url">{origin}/v1</code>, with an API key
        that has the <code>models:invoke</code> scope (make it a project key on the <Link href={`/orgs/${orgId}/keys`}>API keys</Link> page so it reaches only this
        project). To evaluate a served model through the same path as any other, register that base URL here as an endpoint.
      </p>
      <ErrorAlert error={served.error} />
      {served.isLoading ? (
        <Loading what="served models" />
      ) : served.data?.length === 0 ? (
        <p className="empty">No model version with a stored checkpoint yet: train or upload one on the Models page.</p>
      ) : (
        <>
          <p className="hint">Model ids (a version, an alias, or the latest):</p>
          <ul className="mono" data-testid="served-models" style={{ margin: "0 0 0.75rem", paddingLeft: "1.2rem" }}>
            {served.data?.slice(0, 12).map((m) => (
              <li key={m.id}>{m.id}</li>
            ))}
            {served.data && served.data.length > 12 ? <li className="muted">and {served.data.length - 12} more</li> : null}
          </ul>
        </>
      )}
      <pre className="json">{`curl ${origin}/v1/chat/completions \\
  -H "Authorization: Bearer $HEARTH_API_KEY" -H "content-type: application/json" \\
  -d '{"model": "${example}", "messages": [{"role": "user", "content": "Hello"}], "stream": true}'`}</pre>
    </Section>
  );
}

function EvaluateCard({ orgId, projectId, endpoints }: { orgId: string; projectId: string; endpoints: { id: string; name: string }[] }) {
  const trpc = useTRPC();
  const router = useRouter();
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const runs = useQuery({ ...trpc.run.list.queryOptions({ projectId, kind: "EVAL", limit: 50 }), refetchInterval: 30_000 }); // a change of status arrives at once (LiveUpdates)
  const create = useMutation(trpc.run.create.mutationOptions({ onSuccess: (run) => router.push(`/orgs/${orgId}/projects/${projectId}/runs/${run.id}`) }));
  const published = suites.data?.filter((s) => s.latest) ?? [];
  const [suiteVersionId, setSuiteVersionId] = useState("");
  const endpointRuns = runs.data?.filter((r) => r.target === "ENDPOINT") ?? [];
  const names = new Map(endpoints.map((e) => [e.id, e.name]));

  function onRun(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    if (!suiteVersionId) return;
    create.mutate({
      projectId,
      kind: "EVAL",
      target: "ENDPOINT",
      endpointId: String(data.get("endpointId")),
      suiteVersionId,
      config: {
        maxTokens: Number(data.get("maxTokens")),
        temperature: Number(data.get("temperature")),
        api: String(data.get("api")),
        ...(data.get("judgeEndpointId") ? { judgeEndpointId: String(data.get("judgeEndpointId")) } : {}),
      },
    });
  }

  return (
    <Section title="Evaluate an endpoint">
      <p className="hint">The server calls the endpoint for each case of a published suite version, within the endpoint&apos;s limits, and grades the answers. Results stream into the run page.</p>
      <ErrorAlert error={create.error ?? suites.error} />
      {suites.isLoading ? (
        <Loading what="suites" />
      ) : published.length === 0 ? (
        <p className="empty">Publish a suite version first.</p>
      ) : (
        <form className="inline" onSubmit={onRun} data-testid="evaluate-endpoint">
          <label className="field grow">
            Endpoint
            <select name="endpointId">
              {endpoints.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
          <SuiteVersionPicker projectId={projectId} value={suiteVersionId} onChange={setSuiteVersionId} />
          <label className="field">
            Max tokens
            <input name="maxTokens" type="number" min={1} max={8192} defaultValue={64} required />
          </label>
          <label className="field">
            Temperature
            <input name="temperature" type="number" min={0} max={2} step={0.1} defaultValue={0} required />
          </label>
          <label className="field">
            API
            <select name="api" defaultValue="auto">
              <option value="auto">by case input</option>
              <option value="chat">always chat</option>
              <option value="completions">always completions</option>
            </select>
          </label>
          <label className="field">
            Judge for rubric cases
            <select name="judgeEndpointId" defaultValue="">
              <option value="">none (rubric cases fail)</option>
              {endpoints.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name}
                </option>
              ))}
            </select>
          </label>
          <button className="btn btn-primary" type="submit" disabled={create.isPending || !suiteVersionId}>
            Run eval
          </button>
        </form>
      )}
      {endpointRuns.length ? (
        <table className="table" data-testid="endpoint-runs" style={{ marginTop: "1rem" }}>
          <thead>
            <tr>
              <th>Run</th>
              <th>Endpoint</th>
              <th>Status</th>
              <th>Created</th>
              <th>Pass rate</th>
              <th>Latency p50 / p95</th>
            </tr>
          </thead>
          <tbody>
            {endpointRuns.map((r) => {
              const summary = r.summary as { passRate?: number; usage?: { p50LatencyMs: number; p95LatencyMs: number } } | null;
              return (
                <tr key={r.id}>
                  <td>
                    <Link className="mono" href={`/orgs/${orgId}/projects/${projectId}/runs/${r.id}`}>
                      {r.id.slice(0, 10)}
                    </Link>
                  </td>
                  <td>{r.endpointId ? (names.get(r.endpointId) ?? "—") : <span className="muted">deleted</span>}</td>
                  <td>
                    <RunStatusBadge status={r.status} />
                  </td>
                  <td>{formatDate(r.createdAt)}</td>
                  <td>{percent(summary?.passRate)}</td>
                  <td>{summary?.usage ? `${summary.usage.p50LatencyMs} / ${summary.usage.p95LatencyMs} ms` : "—"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}
