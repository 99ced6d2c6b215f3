"use client";
import Link from "next/link";
import { signOut, useSession } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useEffect, type ReactNode } from "react";
import { NotificationBell } from "./NotificationBell";
import { LiveUpdates } from "./LiveUpdates";

/** The message a person can act on; tRPC errors already carry a safe message from the server. */
export function errorMessage(error: unknown): string {
  if (!error) return "";
  const e = error as { message?: string; data?: { fieldErrors?: Record<string, string> } };
  return e.message || "Something went wrong.";
}

export function fieldError(error: unknown, field: string): string | undefined {
  return (error as { data?: { fieldErrors?: Record<string, string> } } | null)?.data?.fieldErrors?.[field];
}

export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <div className="alert alert-error" role="alert">
      {errorMessage(error)}
    </div>
  );
}

export function RoleBadge({ role }: { role: string | null | undefined }) {
  if (!role) return null;
  return <span className={`badge badge-${role.toLowerCase()}`}>{role}</span>;
}

/** Sends people who are not signed in to the sign-in page, then back here. */
export function useRequireSession() {
  const router = useRouter();
  const session = useSession();
  useEffect(() => {
    if (session.status === "unauthenticated") {
      router.replace(`/signin?callbackUrl=${encodeURIComponent(window.location.pathname + window.location.search)}`);
    }
  }, [session.status, router]);
  return session;
}

export function TopBar({ children }: { children?: ReactNode }) {
  const session = useSession();
  return (
    <header className="topbar">
      <Link href="/orgs" className="brand">
        <span className="brand-mark" aria-hidden>
          H
        </span>
        Hearth
      </Link>
      <nav className="crumbs" aria-label="Breadcrumb">
        {children}
      </nav>
      <span className="spacer" />
      {session.data?.user ? (
        <div className="row">
          <NotificationBell />
          <LiveUpdates />
          <Link className="muted" data-testid="signed-in-as" href="/account/sessions" title="Your sessions and password">
            {session.data.user.email}
          </Link>
          <button className="btn btn-small" onClick={() => signOut({ callbackUrl: "/signin" })}>
            Sign out
          </button>
        </div>
      ) : null}
    </header>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted">Loading {what}…</p>;
}

export function formatDate(value: Date | string | null | undefined): string {
  if (!value) return "—";
  const date = typeof value === "string" ? new Date(value) : value;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
