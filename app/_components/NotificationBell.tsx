"use client";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";

/** The signed-in person's unread notifications (drift alerts), as a count beside a link to the list. */
export function NotificationBell() {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.notification.list.queryOptions({ unreadOnly: true, limit: 1 }), refetchInterval: 30_000 });
  const unread = list.data?.unread ?? 0;
  return (
    <Link href="/notifications" className="btn btn-small" data-testid="notification-bell" aria-label={`Notifications: ${unread} unread`} title="Notifications">
      <span aria-hidden>🔔</span>
      {unread ? (
        <span className="badge badge-danger" data-testid="notification-unread">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </Link>
  );
}
