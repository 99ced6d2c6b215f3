"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

export default function PoliciesPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const access = useProjectAccess(projectId);
  const policies = useQuery(trpc.policy.list.queryOptions({ projectId }));
  const base = `/orgs/${orgId}/projects/${projectId}/policies`;
  const create = useMutation(trpc.policy.create.mutationOptions({ onSuccess: (p) => router.push(`${base}/${p.id}`) }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ projectId, key: String(form.get("key")), title: String(form.get("title")) });
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Policies</h1>
          <p className="subtitle">Written policies; each heading is a clause that eval cases can cite.</p>
        </div>
      </div>
      {access.canEdit ? (
        <Section title="New policy">
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <form className="inline" onSubmit={onCreate}>
            <label className="field">
              Key
              <input name="key" required placeholder="refunds" pattern="[a-z0-9][a-z0-9\-]{0,63}" />
              <span className="field-error">{fieldError(create.error, "key")}</span>
            </label>
            <label className="field grow">
              Title
              <input name="title" required maxLength={200} placeholder="Refund policy" />
              <span className="field-error">{fieldError(create.error, "title")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create policy
            </button>
          </form>
        </Section>
      ) : null}
      <section className="card">
        <ErrorAlert error={policies.error} />
        {policies.isLoading ? (
          <Loading what="policies" />
        ) : policies.data?.length === 0 ? (
          <p className="empty">No policies yet.</p>
        ) : (
          <table className="table" data-testid="policies">
            <thead>
              <tr>
                <th>Title</th>
                <th>Key</th>
                <th>Latest version</th>
                <th>Draft changed</th>
              </tr>
            </thead>
            <tbody>
              {policies.data?.map((p) => (
                <tr key={p.id}>
                  <td>
                    <Link href={`${base}/${p.id}`}>{p.title}</Link>
                  </td>
                  <td className="mono">{p.key}</td>
                  <td>{p.latest ? `v${p.latest.version} · ${p.latest.message}` : <span className="muted">unpublished</span>}</td>
                  <td>{formatDate(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
