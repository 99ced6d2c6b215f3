"use client";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useSession } from "next-auth/react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading, RoleBadge } from "@/app/_components/ui";
import { roleAtLeast } from "@/contracts/roles";

const ROLES = ["OWNER", "ADMIN", "EDITOR", "VIEWER"] as const;
type Role = (typeof ROLES)[number];

export default function MembersPage() {
  const { orgId } = useParams<{ orgId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const session = useSession();
  const org = useQuery(trpc.org.get.queryOptions({ orgId }));
  const isAdmin = roleAtLeast(org.data?.role, "ADMIN");
  const isOwner = roleAtLeast(org.data?.role, "OWNER");
  const members = useQuery(trpc.member.list.queryOptions({ orgId }));
  const invites = useQuery({ ...trpc.invite.list.queryOptions({ orgId }), enabled: isAdmin });
  const refresh = () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.member.list.queryKey({ orgId }) }),
      queryClient.invalidateQueries({ queryKey: trpc.invite.list.queryKey({ orgId }) }),
    ]);
  const updateRole = useMutation(trpc.member.updateRole.mutationOptions({ onSuccess: refresh }));
  const removeMember = useMutation(trpc.member.remove.mutationOptions({ onSuccess: refresh }));
  const endSessions = useMutation(trpc.member.endSessions.mutationOptions());
  const [inviteLink, setInviteLink] = useState<string | null>(null);
  const createInvite = useMutation(
    trpc.invite.create.mutationOptions({
      onSuccess: ({ token }) => {
        setInviteLink(`${window.location.origin}/invite/${token}`);
        return refresh();
      },
    }),
  );
  const revokeInvite = useMutation(trpc.invite.revoke.mutationOptions({ onSuccess: refresh }));
  const assignable: readonly Role[] = isOwner ? ROLES : ROLES.slice(1);

  function onInvite(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = String(form.get("email") ?? "").trim();
    createInvite.mutate({ orgId, role: form.get("role") as Role, email: email || undefined, expiresInHours: Number(form.get("expires")) });
  }

  return (
    <>
      <div className="page-header">
        <div>
          <h1>Members</h1>
          <p className="subtitle">OWNER and ADMIN manage members; EDITOR edits and runs; VIEWER reads.</p>
        </div>
      </div>
      <ErrorAlert error={members.error ?? updateRole.error ?? removeMember.error ?? endSessions.error} />
      <section className="card">
        {members.isLoading ? <Loading what="members" /> : null}
        <table className="table" data-testid="members-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th>Joined</th>
              {isAdmin ? <th /> : null}
            </tr>
          </thead>
          <tbody>
            {members.data?.map((m) => {
              const editable = isAdmin && (isOwner || m.role !== "OWNER");
              return (
                <tr key={m.id}>
                  <td>
                    {m.user.name}
                    {m.user.email === session.data?.user?.email ? <span className="muted"> (you)</span> : null}
                  </td>
                  <td>{m.user.email}</td>
                  <td>
                    {editable ? (
                      <select
                        aria-label={`Role of ${m.user.email}`}
                        value={m.role}
                        onChange={(e) => updateRole.mutate({ orgId, membershipId: m.id, role: e.target.value as Role })}
                      >
                        {assignable.map((r) => (
                          <option key={r}>{r}</option>
                        ))}
                      </select>
                    ) : (
                      <RoleBadge role={m.role} />
                    )}
                  </td>
                  <td>{formatDate(m.createdAt)}</td>
                  {isAdmin ? (
                    <td>
                      {editable ? (
                        <button
                          className="btn btn-small"
                          title="Signs this member out of every browser"
                          onClick={() => {
                            if (window.confirm(`Sign ${m.user.email} out everywhere?`)) endSessions.mutate({ orgId, membershipId: m.id });
                          }}
                        >
                          End sessions
                        </button>
                      ) : null}{" "}
                      {editable ? (
                        <button
                          className="btn btn-small btn-danger"
                          onClick={() => {
                            if (window.confirm(`Remove ${m.user.email} from the organization?`)) removeMember.mutate({ orgId, membershipId: m.id });
                          }}
                        >
                          Remove
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              );
            })}
          </tbody>
        </table>
      </section>
      {isAdmin ? (
        <section className="card">
          <h2>Invite people</h2>
          <p className="muted">An invitation is a link; send it to the person yourself. It works once and expires.</p>
          <ErrorAlert error={createInvite.error && !createInvite.error.data?.fieldErrors ? createInvite.error : null} />
          <form className="inline" onSubmit={onInvite}>
            <label className="field" style={{ flex: 1 }}>
              Email <span className="hint">optional: only this address may accept</span>
              <input name="email" type="email" placeholder="person@company.com" />
              <span className="field-error">{fieldError(createInvite.error, "email")}</span>
            </label>
            <label className="field">
              Role
              <select name="role" defaultValue="EDITOR" aria-label="Invitation role">
                {assignable.map((r) => (
                  <option key={r}>{r}</option>
                ))}
              </select>
            </label>
            <label className="field">
              Expires
              <select name="expires" defaultValue="72">
                <option value="24">in 1 day</option>
                <option value="72">in 3 days</option>
                <option value="168">in 7 days</option>
              </select>
            </label>
            <button className="btn btn-primary" type="submit" disabled={createInvite.isPending}>
              Create invitation link
            </button>
          </form>
          {inviteLink ? (
            <div style={{ marginTop: "1rem" }}>
              <div className="alert alert-ok">Invitation created. Copy the link now: it will not be shown again.</div>
              <div className="secret mono" data-testid="invite-link">
                {inviteLink}
              </div>
            </div>
          ) : null}
          <h2 style={{ marginTop: "1.5rem" }}>Pending invitations</h2>
          {invites.data?.length === 0 ? <p className="muted">None.</p> : null}
          {invites.data?.length ? (
            <table className="table">
              <thead>
                <tr>
                  <th>For</th>
                  <th>Role</th>
                  <th>Expires</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {invites.data.map((invite) => (
                  <tr key={invite.id}>
                    <td>{invite.email ?? <span className="muted">anyone with the link</span>}</td>
                    <td>
                      <RoleBadge role={invite.role} />
                    </td>
                    <td>
                      {new Date(invite.expiresAt) < new Date() ? <span className="badge badge-danger">expired</span> : formatDate(invite.expiresAt)}
                    </td>
                    <td>
                      <button className="btn btn-small btn-danger" onClick={() => revokeInvite.mutate({ orgId, inviteId: invite.id })}>
                        Revoke
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
        </section>
      ) : null}
    </>
  );
}
