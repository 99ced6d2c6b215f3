"use client";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";

/** The signed-in person's unread notifications (drift alerts), as a count beside a link to the list. */
export function NotificationBell() {
  const trpc = useTRPC();
  // A new notification shows at once (LiveUpdates); the refresh is for a dropped connection.
  const list = useQuery({ ...trpc.notification.list.queryOptions({ unreadOnly: true, limit: 1 }), refetchInterval: 120_000 });
  const unread = list.data?.unread ?? 0;
  return (
    <Link href="/notifications" className="btn btn-small row" style={{ gap: "0.3rem", textDecoration: "none" }} data-testid="notification-bell" aria-label={`Notifications: ${unread} unread`} title="Notifications">
      {/* An outline bell drawn inline: an emoji needs a font the machine may not have. */}
      <svg width="16" height="16" viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden focusable="false">
        <path d="M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9" />
        <path d="M13.7 21a2 2 0 0 1-3.4 0" />
      </svg>
      {unread ? (
        <span className="badge badge-danger" data-testid="notification-unread">
          {unread > 99 ? "99+" : unread}
        </span>
      ) : null}
    </Link>
  );
}
