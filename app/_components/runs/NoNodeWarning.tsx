"use client";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";

/**
 * Says, before anything is queued (and while it waits), that no GPU node of the organization is
 * online, so a job sent to the nodes would wait until one connects. Shows nothing while nodes answer.
 */
export function NoNodeWarning({ orgId, what }: { orgId: string; what: string }) {
  const trpc = useTRPC();
  const nodes = useQuery({ ...trpc.node.list.queryOptions({ orgId }), refetchInterval: 5_000 });
  if (!nodes.data) return null;
  const online = nodes.data.nodes.filter((n) => n.status !== "offline").length;
  if (online > 0) return null;
  return (
    <div className="alert alert-warn" role="status" data-testid="no-node-online">
      No GPU node is online{nodes.data.nodes.length ? ` (${nodes.data.nodes.length} registered, all offline)` : ""}: {what} waits in the queue until one connects. See{" "}
      <Link href={`/orgs/${orgId}/nodes`}>GPU nodes</Link> to start one.
    </div>
  );
}
