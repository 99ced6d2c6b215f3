"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

export default function ModelsPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const access = useProjectAccess(projectId);
  const models = useQuery(trpc.model.list.queryOptions({ projectId }));
  const base = `/orgs/${orgId}/projects/${projectId}/models`;
  const create = useMutation(trpc.model.create.mutationOptions({ onSuccess: (m) => router.push(`${base}/${m.id}`) }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    create.mutate({ projectId, name: String(new FormData(event.currentTarget).get("name")) });
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Models</h1>
          <p className="subtitle">Model versions, their lineage, aliases and gated promotions.</p>
        </div>
      </div>
      {access.canEdit ? (
        <Section title="New model">
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <form className="inline" onSubmit={onCreate}>
            <label className="field grow">
              Name
              <input name="name" required maxLength={100} placeholder="support-assistant" />
              <span className="field-error">{fieldError(create.error, "name")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create model
            </button>
          </form>
        </Section>
      ) : null}
      <section className="card">
        <ErrorAlert error={models.error} />
        {models.isLoading ? (
          <Loading what="models" />
        ) : models.data?.length === 0 ? (
          <p className="empty">No models yet.</p>
        ) : (
          <table className="table" data-testid="models">
            <thead>
              <tr>
                <th>Name</th>
                <th>Versions</th>
                <th>Aliases</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {models.data?.map((m) => (
                <tr key={m.id}>
                  <td>
                    <Link href={`${base}/${m.id}`}>{m.name}</Link>
                  </td>
                  <td>{m._count.versions}</td>
                  <td>
                    {m.aliases.map((a) => (
                      <span key={a.name} className={`badge ${a.protected ? "badge-owner" : ""}`}>
                        {a.name}
                      </span>
                    ))}
                  </td>
                  <td>{formatDate(m.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
