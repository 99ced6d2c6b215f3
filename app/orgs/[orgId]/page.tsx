"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, Loading } from "@/app/_components/ui";
import { roleAtLeast } from "@/contracts/roles";

export default function ProjectsPage() {
  const { orgId } = useParams<{ orgId: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const org = useQuery(trpc.org.get.queryOptions({ orgId }));
  const projects = useQuery(trpc.project.list.queryOptions({ orgId }));
  const create = useMutation(trpc.project.create.mutationOptions({ onSuccess: (p) => router.push(`/orgs/${orgId}/projects/${p.id}`) }));
  const canCreate = roleAtLeast(org.data?.role, "ADMIN");

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ orgId, name: String(form.get("name")), description: String(form.get("description") ?? "") });
  }

  return (
    <>
      <div className="page-header">
        <div>
          <h1>{org.data?.name}</h1>
          <p className="subtitle">Projects hold eval suites, policies, datasets, models and their runs.</p>
        </div>
      </div>
      <ErrorAlert error={projects.error} />
      {projects.isLoading ? <Loading what="projects" /> : null}
      {projects.data?.length === 0 ? <div className="card empty">No projects yet.</div> : null}
      <div className="grid" style={{ marginBottom: "2rem" }} data-testid="project-list">
        {projects.data?.map((project) => (
          <Link key={project.id} href={`/orgs/${orgId}/projects/${project.id}`} className="tile">
            <h3>{project.name}</h3>
            <p>{project.description || "No description"}</p>
          </Link>
        ))}
      </div>
      {canCreate ? (
        <section className="card">
          <h2>New project</h2>
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <form className="stack" onSubmit={onCreate}>
            <label className="field">
              Name
              <input name="name" required maxLength={80} placeholder="Support assistant" />
              <span className="field-error">{fieldError(create.error, "name")}</span>
            </label>
            <label className="field">
              Description <span className="hint">optional</span>
              <textarea name="description" rows={2} maxLength={2000} />
              <span className="field-error">{fieldError(create.error, "description")}</span>
            </label>
            <div>
              <button className="btn btn-primary" type="submit" disabled={create.isPending}>
                Create project
              </button>
            </div>
          </form>
        </section>
      ) : null}
    </>
  );
}
