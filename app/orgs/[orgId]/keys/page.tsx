"use client";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { API_SCOPES, type ApiScope } from "@/contracts/roles";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { RevokeCell, SecretShownOnce } from "@/app/_components/credentials";

const SCOPE_LABELS: Record<ApiScope, string> = {
  "projects:read": "Read projects",
  "projects:write": "Create and edit projects",
  "members:read": "List members",
  "audit:read": "Read the audit log",
  "policies:read": "Read policies",
  "policies:write": "Edit and publish policies",
  "suites:read": "Read eval suites",
  "suites:write": "Edit, import and publish suites",
  "datasets:read": "Read datasets",
  "datasets:write": "Upload datasets",
  "models:read": "Read models",
  "models:write": "Register model versions, request promotions",
  "models:invoke": "Call models at /v1 (OpenAI-compatible)",
  "runs:read": "Read runs and check release gates",
  "runs:write": "Record runs, metrics and results",
};
const SCOPES = API_SCOPES.map((scope) => [scope, SCOPE_LABELS[scope]] as const);
type Scope = ApiScope;

export default function ApiKeysPage() {
  const { orgId } = useParams<{ orgId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const keys = useQuery(trpc.apiKey.list.queryOptions({ orgId }));
  const projects = useQuery(trpc.project.list.queryOptions({ orgId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.apiKey.list.queryKey({ orgId }) });
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation(
    trpc.apiKey.create.mutationOptions({
      onSuccess: (result) => {
        setSecret(result.secret);
        return refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.apiKey.revoke.mutationOptions({ onSuccess: refresh }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const projectId = String(form.get("projectId") ?? "");
    create.mutate({ orgId, name: String(form.get("name")), scopes: form.getAll("scopes") as Scope[], agent: form.get("agent") === "on", ...(projectId ? { projectId } : {}) });
  }

  return (
    <>
      <div className="page-header">
        <div>
          <h1>API keys</h1>
          <p className="subtitle">
            For CI jobs, agents and apps: send <code>Authorization: Bearer &lt;key&gt;</code> to <code>/api/trpc</code>, or use the key with
            any OpenAI client at <code>/v1</code> (scope <code>models:invoke</code>). Agents connect an MCP client to <code>/mcp</code> or run{" "}
            <code>npx hearth mcp</code>.
          </p>
        </div>
      </div>
      <section className="card">
        <h2>New key</h2>
        <ErrorAlert error={create.error && !create.error.data?.fieldErrors?.name ? create.error : null} />
        <form className="stack" onSubmit={onCreate}>
          <label className="field">
            Name
            <input name="name" required maxLength={80} placeholder="release-gate CI" />
            <span className="field-error">{fieldError(create.error, "name")}</span>
          </label>
          <label className="field">
            Reaches
            <select name="projectId" defaultValue="" data-testid="api-key-project">
              <option value="">Every project of the organization</option>
              {projects.data?.map((p) => (
                <option key={p.id} value={p.id}>
                  Only the project {p.name}
                </option>
              ))}
            </select>
            <span className="hint">A project key cannot see other projects or anything organization-wide. Give apps that call a model a project key.</span>
          </label>
          <fieldset style={{ display: "grid", gridTemplateColumns: "repeat(auto-fill, minmax(300px, 1fr))", gap: "0.4rem", border: "none", padding: 0, margin: 0 }}>
            <legend className="hint" style={{ marginBottom: "0.3rem" }}>
              Scopes
            </legend>
            {SCOPES.map(([scope, label]) => (
              <label key={scope} className="row" style={{ gap: "0.35rem", flexWrap: "nowrap", alignItems: "baseline" }}>
                <input type="checkbox" name="scopes" value={scope} defaultChecked={scope === "projects:read"} style={{ flex: "none" }} />
                <span>
                  {label} <code className="muted">{scope}</code>
                </span>
              </label>
            ))}
          </fieldset>
          <label className="row" style={{ gap: "0.35rem", flexWrap: "nowrap", alignItems: "baseline" }}>
            <input type="checkbox" name="agent" data-testid="api-key-agent" style={{ flex: "none" }} />
            <span>
              An agent&apos;s key (MCP clients, AI agents)
              <span className="hint"> — besides its scopes it can never request a promotion or publish a suite or policy version: a person does that.</span>
            </span>
          </label>
          <div>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create key
            </button>
          </div>
        </form>
        {secret ? (
          <SecretShownOnce testId="api-key-secret" what="key">
            {secret}
          </SecretShownOnce>
        ) : null}
      </section>
      <section className="card">
        <h2>Keys</h2>
        <ErrorAlert error={keys.error ?? revoke.error} />
        {keys.isLoading ? <Loading what="keys" /> : null}
        {keys.data?.length === 0 ? <p className="muted">No keys yet.</p> : null}
        {keys.data?.length ? (
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Key</th>
                <th>Reaches</th>
                <th>Scopes</th>
                <th>Created</th>
                <th>Last used</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => (
                <tr key={key.id}>
                  <td>
                    {key.name}
                    {key.agent ? (
                      <span className="badge" style={{ marginLeft: 6 }}>
                        agent
                      </span>
                    ) : null}
                  </td>
                  <td className="mono">hth_{key.prefix}_…</td>
                  <td>{key.project ? key.project.name : <span className="muted">every project</span>}</td>
                  <td>
                    {key.scopes.map((s) => (
                      <span key={s} className="badge" style={{ marginRight: 4 }}>
                        {s}
                      </span>
                    ))}
                  </td>
                  <td>{formatDate(key.createdAt)}</td>
                  <td>{key.lastUsedAt ? formatDate(key.lastUsedAt) : <span className="muted">never</span>}</td>
                  <td>
                    <RevokeCell name={key.name} revokedAt={key.revokedAt} consequence="Anything using it stops working at once." onRevoke={() => revoke.mutate({ orgId, keyId: key.id })} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}
