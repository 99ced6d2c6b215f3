"use client";
import { useParams, usePathname, useRouter, useSearchParams } from "next/navigation";
import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useSubscription } from "@trpc/tanstack-react-query";
import { Suspense, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import Link from "next/link";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { AUDIT_RESOURCE_LABELS, AUDIT_RESOURCE_TYPES, type AuditResourceType } from "@/contracts/audit";

/** The agent session an MCP call was made in (server/mcp records it in the entry's after). */
function threadOf(after: unknown): string | null {
  const thread = after && typeof after === "object" ? (after as { thread?: unknown }).thread : null;
  return typeof thread === "string" ? thread : null;
}

function AuditLog() {
  const { orgId } = useParams<{ orgId: string }>();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const filters = {
    action: params.get("action") || undefined,
    actor: params.get("actor") || undefined,
    resourceType: AUDIT_RESOURCE_TYPES.find((t) => t === params.get("resourceType")),
    thread: params.get("thread") || undefined,
  };
  const input = { orgId, ...filters, limit: 50 };
  const log = useInfiniteQuery(
    trpc.audit.list.infiniteQueryOptions(input, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const live = useSubscription(
    trpc.audit.live.subscriptionOptions({ orgId }, { onData: () => void queryClient.invalidateQueries({ queryKey: trpc.audit.list.pathKey() }) }),
  );

  function onFilter(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const next = new URLSearchParams();
    for (const key of ["action", "actor", "resourceType", "thread"]) {
      const value = String(form.get(key) ?? "").trim();
      if (value) next.set(key, value);
    }
    router.replace(`${pathname}?${next.toString()}`);
  }

  const rows = log.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <>
      <div className="page-header">
        <div>
          <h1>Audit log</h1>
          <p className="subtitle">Every change in this organization: who, what, and the record before and after.</p>
        </div>
        <span className="badge" title="New entries appear as they happen">
          {live.status === "pending" ? "● live" : live.status === "error" ? "live updates paused" : "connecting…"}
        </span>
      </div>
      <section className="card">
        <form className="inline" onSubmit={onFilter} key={params.toString()}>
          <label className="field">
            Action starts with
            <input name="action" defaultValue={filters.action} placeholder="project." />
          </label>
          <label className="field">
            Actor contains
            <input name="actor" defaultValue={filters.actor} placeholder="email or key" />
          </label>
          <label className="field">
            Resource
            <select name="resourceType" defaultValue={filters.resourceType ?? ""}>
              <option value="">any</option>
              {AUDIT_RESOURCE_TYPES.map((type) => (
                <option key={type} value={type}>
                  {AUDIT_RESOURCE_LABELS[type]}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            Agent session
            <input name="thread" defaultValue={filters.thread} placeholder="stdio-…" />
          </label>
          <button className="btn btn-primary" type="submit">
            Filter
          </button>
          <button className="btn" type="button" onClick={() => router.replace(pathname)}>
            Clear
          </button>
        </form>
      </section>
      <ErrorAlert error={log.error} />
      <section className="card">
        {log.isLoading ? <Loading what="audit log" /> : null}
        {!log.isLoading && rows.length === 0 ? <p className="empty">No entries match.</p> : null}
        {rows.length ? (
          <table className="table" data-testid="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Who</th>
                <th>Action</th>
                <th>Resource</th>
                <th>Change</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.id}>
                  <td style={{ whiteSpace: "nowrap" }}>{formatDate(row.createdAt)}</td>
                  <td>
                    {row.actorLabel}
                    <div className="hint">{row.actorType === "API_KEY" ? "API key" : row.actorType === "SYSTEM" ? "system" : "user"}</div>
                  </td>
                  <td>
                    <span className="mono">{row.action}</span>
                    {threadOf(row.after) ? (
                      <div className="hint">
                        <a href={`${pathname}?thread=${encodeURIComponent(threadOf(row.after)!)}`}>agent session</a>
                      </div>
                    ) : null}
                    {row.group ? (
                      <div className="hint" data-testid="audit-group">
                        {row.group.count} batches since {formatDate(row.group.firstAt)}: {row.group.stored.toLocaleString()} of {row.group.received.toLocaleString()} stored
                      </div>
                    ) : null}
                  </td>
                  <td>
                    {row.href ? <Link href={row.href}>{AUDIT_RESOURCE_LABELS[row.resourceType as AuditResourceType] ?? row.resourceType}</Link> : (AUDIT_RESOURCE_LABELS[row.resourceType as AuditResourceType] ?? row.resourceType)}
                    <div className="hint mono">{row.resourceId}</div>
                  </td>
                  <td style={{ maxWidth: 340 }}>
                    <details>
                      <summary>before / after</summary>
                      <div className="hint">before</div>
                      <pre className="json">{row.before ? JSON.stringify(row.before, null, 2) : "—"}</pre>
                      <div className="hint">after</div>
                      <pre className="json">{row.after ? JSON.stringify(row.after, null, 2) : "—"}</pre>
                    </details>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {log.hasNextPage ? (
          <button className="btn" onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
            Load older entries
          </button>
        ) : null}
      </section>
    </>
  );
}

export default function AuditPage() {
  return (
    <Suspense>
      <AuditLog />
    </Suspense>
  );
}
