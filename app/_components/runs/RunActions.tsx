"use client";
import { useRouter } from "next/navigation";
import { useMutation } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";

type RunLike = { id: string; status: string; target: string };

/** Whether the server can start this run again by itself (a browser run restarts from the Train page). */
export const canRetry = (run: RunLike) => (run.status === "FAILED" || run.status === "CANCELLED") && (run.target === "NODE" || run.target === "ENDPOINT" || run.target === "SERVER");
export const canCancel = (run: RunLike) => run.status === "QUEUED" || run.status === "RUNNING";

/**
 * Cancel a queued or running run, or retry one that failed or was cancelled: the same buttons on the
 * runs list and the run page. A retry is a new run with the same inputs; the page opens it.
 */
export function RunActions({ run, orgId, projectId, onChanged }: { run: RunLike; orgId: string; projectId: string; onChanged: () => void }) {
  const trpc = useTRPC();
  const router = useRouter();
  const cancel = useMutation(trpc.run.transition.mutationOptions({ onSuccess: onChanged }));
  const retry = useMutation(
    trpc.run.retry.mutationOptions({
      onSuccess: (created) => {
        onChanged();
        router.push(`/orgs/${orgId}/projects/${projectId}/runs/${created.id}`);
      },
    }),
  );
  const error = cancel.error ?? retry.error;
  return (
    <span className="row" style={{ gap: "0.5rem" }}>
      {error ? (
        <span className="field-error" role="alert">
          {error.message}
        </span>
      ) : null}
      {canCancel(run) ? (
        <button
          className="btn btn-small btn-danger"
          disabled={cancel.isPending}
          aria-label={`Cancel run ${run.id.slice(0, 10)}`}
          onClick={() => {
            const what = run.status === "QUEUED" ? "It has not started; it leaves the queue." : run.target === "NODE" ? "The node stops it within about a second." : "Results already recorded are kept.";
            if (window.confirm(`Cancel this ${run.status.toLowerCase()} run? ${what}`)) cancel.mutate({ runId: run.id, status: "CANCELLED" });
          }}
        >
          {cancel.isPending ? "Cancelling…" : "Cancel"}
        </button>
      ) : null}
      {canRetry(run) ? (
        <button className="btn btn-small" disabled={retry.isPending} aria-label={`Retry run ${run.id.slice(0, 10)}`} onClick={() => retry.mutate({ runId: run.id })}>
          {retry.isPending ? "Queueing…" : "Retry"}
        </button>
      ) : null}
    </span>
  );
}
