"use client";
import Link from "next/link";
import { useParams, usePathname, useRouter, useSearchParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { Suspense } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { duration, percent, ProjectCrumbs, useProjectAccess } from "@/app/_components/records";
import { RunActions } from "@/app/_components/runs/RunActions";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";

const KINDS = ["PRETRAIN", "SFT", "LORA", "EVAL"] as const;
type Kind = (typeof KINDS)[number];

function RunsPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const trpc = useTRPC();
  const kind = KINDS.find((k) => k === params.get("kind")) as Kind | undefined;
  const runs = useQuery({ ...trpc.run.list.queryOptions({ projectId, kind, limit: 200 }), refetchInterval: 60_000 }); // a change of status arrives at once (LiveUpdates)
  const { canEdit } = useProjectAccess(projectId);

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Runs</h1>
          <p className="subtitle">Every training and eval run in this project, newest first.</p>
        </div>
        <label className="field">
          Kind
          <select value={kind ?? ""} onChange={(e) => router.replace(e.target.value ? `${pathname}?kind=${e.target.value}` : pathname)}>
            <option value="">all</option>
            {KINDS.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
      </div>
      <section className="card">
        <ErrorAlert error={runs.error} />
        {runs.isLoading ? (
          <Loading what="runs" />
        ) : runs.data?.length === 0 ? (
          <p className="empty">No runs yet. Runs are started from a suite, a browser trainer, a GPU node or the API.</p>
        ) : (
          <table className="table" data-testid="runs">
            <thead>
              <tr>
                <th>Run</th>
                <th>Kind</th>
                <th>Target</th>
                <th>Model version</th>
                <th>Status</th>
                <th>Created</th>
                <th>Duration</th>
                <th>Pass rate</th>
                {canEdit ? <th>Actions</th> : null}
              </tr>
            </thead>
            <tbody>
              {runs.data?.map((r) => {
                const summary = r.summary as { passRate?: number } | null;
                return (
                  <tr key={r.id} data-run-id={r.id}>
                    <td>
                      <Link className="mono" href={`/orgs/${orgId}/projects/${projectId}/runs/${r.id}`}>
                        {r.id.slice(0, 10)}
                      </Link>
                    </td>
                    <td>{r.kind}</td>
                    <td>{r.target}</td>
                    <td>{r.modelVersion ? <Link href={`/orgs/${orgId}/projects/${projectId}/models/${r.modelVersion.modelId}`}>{`${r.modelVersion.modelName} v${r.modelVersion.version}`}</Link> : "—"}</td>
                    <td>
                      <RunStatusBadge status={r.status} />
                    </td>
                    <td>{formatDate(r.createdAt)}</td>
                    <td>{duration(r.startedAt, r.finishedAt)}</td>
                    <td>{r.kind === "EVAL" ? percent(summary?.passRate) : "—"}</td>
                    {canEdit ? (
                      <td>
                        <RunActions run={r} orgId={orgId} projectId={projectId} onChanged={() => runs.refetch()} />
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

export default function Page() {
  return (
    <Suspense fallback={<Loading what="runs" />}>
      <RunsPage />
    </Suspense>
  );
}
