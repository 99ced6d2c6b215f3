"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { RevokeCell, SecretShownOnce } from "@/app/_components/credentials";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";
import { roleAtLeast } from "@/contracts/roles";

const STATUS_BADGE: Record<string, string> = { online: "badge badge-ok", busy: "badge badge-running", offline: "badge" };
const REFRESH_MS = 2000;

function ago(value: Date | string, now: number): string {
  const seconds = Math.max(0, Math.round((now - new Date(value).getTime()) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return formatDate(value);
}

function bytes(value: number | null): string {
  if (value === null) return "unknown";
  return `${(value / 1024 ** 3).toFixed(1)} GiB`;
}

export default function NodesPage() {
  const { orgId } = useParams<{ orgId: string }>();
  const trpc = useTRPC();
  const org = useQuery(trpc.org.get.queryOptions({ orgId }));
  const isAdmin = roleAtLeast(org.data?.role, "ADMIN");
  const nodes = useQuery({ ...trpc.node.list.queryOptions({ orgId }), refetchInterval: REFRESH_MS });
  const jobs = useQuery({ ...trpc.node.jobs.queryOptions({ orgId }), refetchInterval: REFRESH_MS });
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  const runHref = (projectId: string, runId: string) => `/orgs/${orgId}/projects/${projectId}/runs/${runId}`;
  const list = nodes.data?.nodes ?? [];
  const count = (status: string) => list.filter((n) => n.status === status).length;
  const queued = jobs.data?.filter((j) => j.status === "QUEUED").length ?? 0;

  return (
    <>
      <div className="page-header">
        <div>
          <h1>GPU nodes</h1>
          <p className="subtitle">
            Servers running <code>hearth node</code> for this organization. They take the training and eval runs sent to server nodes, and serve models to the API.
          </p>
        </div>
      </div>
      <div className="stats" data-testid="node-stats">
        <div className="stat">
          <b>{count("online") + count("busy")}</b>
          <span>online</span>
        </div>
        <div className="stat">
          <b>{count("busy")}</b>
          <span>busy</span>
        </div>
        <div className="stat">
          <b>{count("offline")}</b>
          <span>offline</span>
        </div>
        <div className="stat">
          <b>{queued}</b>
          <span>jobs waiting</span>
        </div>
      </div>

      <section className="card">
        <h2>Nodes</h2>
        <ErrorAlert error={nodes.error} />
        {nodes.isLoading ? <Loading what="nodes" /> : null}
        {nodes.data && !list.length ? (
          <p className="empty">
            No node has registered yet. {isAdmin ? "Create a node token below, then" : "An admin creates a node token, then"} run <code>npx hearth node --server {typeof window === "undefined" ? "" : window.location.origin} --token …</code> on a GPU machine.
          </p>
        ) : null}
        {list.length ? (
          <table className="table" data-testid="nodes-table">
            <thead>
              <tr>
                <th>Node</th>
                <th>Status</th>
                <th>Adapter</th>
                <th>Engines</th>
                <th>Memory</th>
                <th>Current job</th>
                <th>Models loaded</th>
                <th>Last seen</th>
              </tr>
            </thead>
            <tbody>
              {list.map((node) => (
                <tr key={node.id}>
                  <td>
                    <strong>{node.name}</strong>
                    <div className="hint">token “{node.tokenName}”</div>
                  </td>
                  <td>
                    <span className={STATUS_BADGE[node.status]}>{node.status}</span>
                  </td>
                  <td>
                    {node.adapter.description || node.adapter.device || "unknown adapter"}
                    <div className="hint">{[node.adapter.vendor, node.adapter.architecture].filter(Boolean).join(" · ")}</div>
                  </td>
                  <td>
                    <NodeEngines engines={node.engines} info={node.engineInfo} />
                  </td>
                  <td>{bytes(node.memoryBytes)}</td>
                  <td>
                    {node.currentRun ? (
                      <>
                        <Link href={runHref(node.currentRun.projectId, node.currentRun.id)}>
                          {node.currentRun.kind} run <span className="mono">{node.currentRun.id.slice(-8)}</span>
                        </Link>
                        <div className="hint">
                          {node.currentRun.projectName} · attempt {node.currentRun.attempt}
                        </div>
                      </>
                    ) : (
                      <span className="muted">{node.status === "offline" ? "—" : "idle"}</span>
                    )}
                  </td>
                  <td>
                    {node.loadedModelVersionIds.length || <span className="muted">none</span>}
                    {node.status === "offline" ? null : <div className="hint">{node.servingVia ? `serving through ${node.servingVia}` : "no serving connection"}</div>}
                  </td>
                  <td title={formatDate(node.lastSeenAt)}>{ago(node.lastSeenAt, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      <section className="card">
        <h2>Jobs on nodes</h2>
        <p className="hint">Runs sent to server nodes that are waiting or running, and those that ended in the last day.</p>
        <ErrorAlert error={jobs.error} />
        {jobs.isLoading ? <Loading what="jobs" /> : null}
        {jobs.data && !jobs.data.length ? <p className="empty">No run has been sent to the nodes yet. Choose “server nodes” when you start a training run.</p> : null}
        {jobs.data?.length ? (
          <table className="table" data-testid="node-jobs-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Attempt</th>
                <th>Engine</th>
                <th>Node</th>
                <th>Queued</th>
                <th>Last error</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.map((job) => (
                <tr key={job.id}>
                  <td>
                    <Link href={runHref(job.projectId, job.id)}>
                      {job.kind} <span className="mono">{job.id.slice(-8)}</span>
                    </Link>
                    <div className="hint">{job.projectName}</div>
                  </td>
                  <td>
                    <RunStatusBadge status={job.status} />
                  </td>
                  <td>
                    {job.attempts} of {job.maxAttempts}
                  </td>
                  <td>{job.engine ?? <span className="muted">not leased yet</span>}</td>
                  <td>{(job.leaseNodeId && list.find((n) => n.id === job.leaseNodeId)?.name) || <span className="muted">—</span>}</td>
                  <td>{ago(job.createdAt, now)}</td>
                  <td>{job.error ? <pre className="cell-text">{job.error}</pre> : <span className="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      {isAdmin ? <NodeTokens orgId={orgId} /> : null}
    </>
  );
}

type EngineInfo = { available?: boolean; reason?: string; versions?: Record<string, string | null>; gpus?: Array<{ name: string; memoryBytes: number }> };

/** The engines a node runs (torch with its versions and GPUs), and for each one it lacks, why. */
function NodeEngines({ engines, info }: { engines: string[]; info: Partial<Record<string, EngineInfo>> }) {
  const missing = (["webgpu", "torch"] as const).filter((e) => !engines.includes(e) && info[e]?.reason);
  return (
    <>
      {engines.length ? engines.join(" · ") : <span className="muted">none</span>}
      {info.torch?.available && (
        <div className="hint">
          {["torch", "transformers", "peft"].map((p) => info.torch?.versions?.[p] && `${p} ${info.torch.versions[p]}`).filter(Boolean).join(", ")}
          {"; "}
          {info.torch.gpus?.length ? info.torch.gpus.map((g) => `${g.name} (${bytes(g.memoryBytes)})`).join(", ") : "no CUDA GPU (CPU)"}
        </div>
      )}
      {missing.map((e) => (
        <div key={e} className="hint">
          no {e}: {info[e]!.reason}
        </div>
      ))}
    </>
  );
}

function NodeTokens({ orgId }: { orgId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const tokens = useQuery(trpc.node.tokens.queryOptions({ orgId }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.node.tokens.queryKey({ orgId }) });
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation(
    trpc.node.createToken.mutationOptions({
      onSuccess: (result) => {
        setSecret(result.secret);
        return refresh();
      },
    }),
  );
  const revoke = useMutation(trpc.node.revokeToken.mutationOptions({ onSuccess: refresh }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    create.mutate({ orgId, name: String(new FormData(event.currentTarget).get("name")) });
  }

  return (
    <section className="card">
      <h2>Node tokens</h2>
      <p className="hint">A node proves who it is with a token. Revoking a token stops every node using it at its next heartbeat; their jobs go back to the queue.</p>
      <ErrorAlert error={create.error && !fieldError(create.error, "name") ? create.error : null} />
      <form className="inline" onSubmit={onCreate}>
        <label className="field grow">
          Name
          <input name="name" required maxLength={80} placeholder="gpu-rack-1" />
          <span className="field-error">{fieldError(create.error, "name")}</span>
        </label>
        <button className="btn btn-primary" type="submit" disabled={create.isPending}>
          Create token
        </button>
      </form>
      {secret ? (
        <SecretShownOnce testId="node-token-secret" what="token" instructions="On the GPU machine, in a Hearth checkout:">
          HEARTH_NODE_TOKEN={secret} npx hearth node --server {window.location.origin}
        </SecretShownOnce>
      ) : null}
      <ErrorAlert error={tokens.error ?? revoke.error} />
      {tokens.isLoading ? <Loading what="tokens" /> : null}
      {tokens.data && !tokens.data.length ? <p className="muted">No node tokens yet.</p> : null}
      {tokens.data?.length ? (
        <table className="table" data-testid="node-tokens-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Token</th>
              <th>Nodes</th>
              <th>Created</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {tokens.data.map((token) => (
              <tr key={token.id}>
                <td>{token.name}</td>
                <td className="mono">hnt_{token.prefix}_…</td>
                <td>{token._count.nodes}</td>
                <td>{formatDate(token.createdAt)}</td>
                <td>{token.lastUsedAt ? formatDate(token.lastUsedAt) : <span className="muted">never</span>}</td>
                <td>
                  <RevokeCell name={token.name} revokedAt={token.revokedAt} consequence="Nodes using it stop at their next heartbeat." onRevoke={() => revoke.mutate({ orgId, tokenId: token.id })} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
