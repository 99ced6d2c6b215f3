"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useSession } from "next-auth/react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading, RoleBadge, TopBar } from "@/app/_components/ui";

export default function InvitePage() {
  const { token } = useParams<{ token: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const session = useSession();
  const preview = useQuery(trpc.invite.preview.queryOptions({ token }));
  const accept = useMutation(trpc.invite.accept.mutationOptions({ onSuccess: (m) => router.push(`/orgs/${m.orgId}`) }));
  const here = `/invite/${token}`;

  return (
    <>
      <TopBar />
      <main className="page-narrow">
        <div className="card">
          <h1>Invitation</h1>
          {preview.isLoading ? <Loading what="invitation" /> : null}
          <ErrorAlert error={preview.error} />
          {preview.data ? (
            <>
              <p>
                You are invited to join <strong>{preview.data.orgName}</strong> as <RoleBadge role={preview.data.role} />.
              </p>
              {preview.data.email ? <p className="muted">This invitation is for {preview.data.email}.</p> : null}
              {preview.data.state !== "valid" ? (
                <div className="alert alert-error">
                  {preview.data.state === "expired" ? `This invitation expired on ${formatDate(preview.data.expiresAt)}.` : `This invitation was ${preview.data.state}.`}
                </div>
              ) : session.status === "authenticated" ? (
                <>
                  <ErrorAlert error={accept.error} />
                  <button className="btn btn-primary btn-block" onClick={() => accept.mutate({ token })} disabled={accept.isPending}>
                    Accept and join {preview.data.orgName}
                  </button>
                </>
              ) : session.status === "unauthenticated" ? (
                <div className="row">
                  <Link className="btn btn-primary" href={`/signin?callbackUrl=${encodeURIComponent(here)}`}>
                    Sign in to accept
                  </Link>
                  <Link className="btn" href={`/signup?callbackUrl=${encodeURIComponent(here)}`}>
                    Create an account
                  </Link>
                </div>
              ) : null}
            </>
          ) : null}
        </div>
      </main>
    </>
  );
}
