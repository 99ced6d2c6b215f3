"use client";
import Link from "next/link";
import { signOut } from "next-auth/react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading, TopBar, useRequireSession } from "@/app/_components/ui";

/** Your signed-in browsers: end one, sign out everywhere, or change the password (which ends the others). */
export default function SessionsPage() {
  useRequireSession();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const sessions = useQuery(trpc.user.sessions.queryOptions());
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.user.sessions.queryKey() });
  const end = useMutation(trpc.user.endSessions.mutationOptions({ onSuccess: refresh }));
  const everywhere = useMutation(trpc.user.endSessions.mutationOptions({ onSuccess: () => signOut({ callbackUrl: "/signin" }) }));
  const change = useMutation(trpc.user.changePassword.mutationOptions({ onSuccess: refresh }));

  function onChangePassword(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    change.mutate({ currentPassword: String(form.get("currentPassword")), newPassword: String(form.get("newPassword")) });
  }

  return (
    <>
      <TopBar>
        <Link href="/orgs">Organizations</Link> / <span>Sessions</span>
      </TopBar>
      <main className="page">
        <h1>Your sessions</h1>
        <ErrorAlert error={sessions.error ?? end.error ?? everywhere.error} />
        {sessions.isLoading ? <Loading what="sessions" /> : null}
        <table className="table" data-testid="sessions">
          <thead>
            <tr>
              <th>Signed in</th>
              <th>Browser</th>
              <th>Address</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.data?.map((s) => (
              <tr key={s.id}>
                <td>{formatDate(s.createdAt)}</td>
                <td>{s.userAgent ?? "—"}</td>
                <td>{s.address ?? "—"}</td>
                <td>{s.current ? <span className="muted">this browser</span> : <button className="btn btn-small" onClick={() => end.mutate({ sessionId: s.id })}>End</button>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p>
          <button className="btn" onClick={() => everywhere.mutate({})} disabled={everywhere.isPending}>
            Sign out everywhere
          </button>
        </p>
        <h2>Change password</h2>
        <p className="muted">Your other sessions end; this one stays signed in.</p>
        <ErrorAlert error={change.error} />
        {change.data ? <div className="alert">Password changed; {change.data.endedSessions} other session(s) ended.</div> : null}
        <form className="stack" onSubmit={onChangePassword}>
          <label className="field">
            Current password
            <input name="currentPassword" type="password" autoComplete="current-password" required />
          </label>
          <label className="field">
            New password
            <input name="newPassword" type="password" autoComplete="new-password" required minLength={10} />
            <span className="field-error">{fieldError(change.error, "newPassword")}</span>
          </label>
          <button className="btn btn-primary" type="submit" disabled={change.isPending}>
            Change password
          </button>
        </form>
      </main>
    </>
  );
}
