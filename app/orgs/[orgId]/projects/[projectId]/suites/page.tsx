"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

export default function SuitesPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const access = useProjectAccess(projectId);
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const base = `/orgs/${orgId}/projects/${projectId}/suites`;
  const create = useMutation(trpc.suite.create.mutationOptions({ onSuccess: (s) => router.push(`${base}/${s.id}`) }));

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ projectId, name: String(form.get("name")), description: String(form.get("description")) });
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Eval suites</h1>
          <p className="subtitle">Test cases and graders; runs always use a published version.</p>
        </div>
      </div>
      {access.canEdit ? (
        <Section title="New suite">
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <form className="inline" onSubmit={onCreate}>
            <label className="field">
              Name
              <input name="name" required maxLength={120} placeholder="Refund answers" />
              <span className="field-error">{fieldError(create.error, "name")}</span>
            </label>
            <label className="field grow">
              Description
              <input name="description" maxLength={4000} placeholder="What this suite checks" />
              <span className="field-error">{fieldError(create.error, "description")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create suite
            </button>
          </form>
        </Section>
      ) : null}
      <section className="card">
        <ErrorAlert error={suites.error} />
        {suites.isLoading ? (
          <Loading what="suites" />
        ) : suites.data?.length === 0 ? (
          <p className="empty">No suites yet.</p>
        ) : (
          <table className="table" data-testid="suites">
            <thead>
              <tr>
                <th>Name</th>
                <th>Latest version</th>
                <th>Cases</th>
                <th>Changed</th>
              </tr>
            </thead>
            <tbody>
              {suites.data?.map((s) => (
                <tr key={s.id}>
                  <td>
                    <Link href={`${base}/${s.id}`}>{s.name}</Link>
                    {s.description ? <div className="hint">{s.description}</div> : null}
                  </td>
                  <td>{s.latest ? `v${s.latest.version} · ${s.latest.message}` : <span className="muted">unpublished</span>}</td>
                  <td>{s.latest?.caseCount ?? "—"}</td>
                  <td>{formatDate(s.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
