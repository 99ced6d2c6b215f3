"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading, TopBar, useRequireSession } from "@/app/_components/ui";

/** The signed-in person's notifications, newest first: drift alerts from the projects they belong to. */
export default function NotificationsPage() {
  useRequireSession();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.notification.list.queryOptions({ limit: 100 }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.notification.list.queryKey() });
  const markRead = useMutation(trpc.notification.markRead.mutationOptions({ onSuccess: refresh }));

  return (
    <>
      <TopBar>
        <Link href="/orgs">Organizations</Link> / <span>Notifications</span>
      </TopBar>
      <main className="page">
        <div className="page-header">
          <div>
            <h1>Notifications</h1>
            <p className="subtitle">Alerts from the schedules of your projects: a pass rate that fell by more than its margin, a case that regressed, a scheduled run that failed.</p>
          </div>
          {list.data?.unread ? (
            <button className="btn" disabled={markRead.isPending} onClick={() => markRead.mutate({ all: true })}>
              Mark all read
            </button>
          ) : null}
        </div>
        <ErrorAlert error={list.error ?? markRead.error} />
        {list.isLoading ? <Loading what="notifications" /> : null}
        {list.data?.items.length === 0 ? <p className="empty">Nothing yet.</p> : null}
        <ul className="plain-list stack" data-testid="notifications">
          {list.data?.items.map((n) => (
            <li key={n.id} className="card" data-testid="notification" data-unread={n.readAt ? undefined : "true"} style={n.readAt ? { opacity: 0.7 } : { borderLeft: "3px solid #dc2626" }}>
              <div className="row" style={{ justifyContent: "space-between" }}>
                <strong>{n.title}</strong>
                <span className="muted">
                  {n.project.name} · {formatDate(n.createdAt)}
                </span>
              </div>
              {n.body ? <p style={{ margin: "0.4rem 0" }}>{n.body}</p> : null}
              <div className="row">
                <button
                  className="btn btn-small btn-primary"
                  onClick={() => {
                    if (!n.readAt) markRead.mutate({ ids: [n.id] });
                    router.push(n.link);
                  }}
                >
                  Open the run
                </button>
                <Link className="btn btn-small" href={`/orgs/${n.project.orgId}/projects/${n.projectId}/schedules`}>
                  Schedules
                </Link>
                {n.readAt ? null : (
                  <button className="btn btn-small" onClick={() => markRead.mutate({ ids: [n.id] })}>
                    Mark read
                  </button>
                )}
              </div>
            </li>
          ))}
        </ul>
      </main>
    </>
  );
}
