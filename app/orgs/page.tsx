"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, Loading, RoleBadge, TopBar, useRequireSession } from "@/app/_components/ui";

export default function OrganizationsPage() {
  const session = useRequireSession();
  const trpc = useTRPC();
  const router = useRouter();
  const orgs = useQuery({ ...trpc.org.list.queryOptions(), enabled: session.status === "authenticated" });
  const create = useMutation(trpc.org.create.mutationOptions({ onSuccess: (org) => router.push(`/orgs/${org.id}`) }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    create.mutate({ name: String(new FormData(event.currentTarget).get("name")) });
  }

  return (
    <>
      <TopBar />
      <main className="page">
        <div className="page-header">
          <div>
            <h1>Organizations</h1>
            <p className="subtitle">Each organization has its own members, projects and API keys.</p>
          </div>
        </div>
        <ErrorAlert error={orgs.error} />
        {orgs.isLoading || session.status === "loading" ? <Loading what="organizations" /> : null}
        {orgs.data && orgs.data.length === 0 ? <div className="card empty">You are not in any organization yet. Create one below, or open an invitation link.</div> : null}
        <div className="grid" style={{ marginBottom: "2rem" }}>
          {orgs.data?.map((org) => (
            <Link key={org.id} href={`/orgs/${org.id}`} className="tile">
              <div className="row" style={{ justifyContent: "space-between" }}>
                <h3>{org.name}</h3>
                <RoleBadge role={org.role} />
              </div>
              <p>
                {org.projectCount} project{org.projectCount === 1 ? "" : "s"}
              </p>
            </Link>
          ))}
        </div>
        <section className="card">
          <h2>New organization</h2>
          <ErrorAlert error={create.error && !fieldError(create.error, "name") ? create.error : null} />
          <form className="inline" onSubmit={onCreate}>
            <label className="field" style={{ flex: 1 }}>
              Name
              <input name="name" placeholder="Acme Corp" required maxLength={80} />
              <span className="field-error">{fieldError(create.error, "name")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create organization
            </button>
          </form>
        </section>
      </main>
    </>
  );
}
