"use client";
import Link from "next/link";
import { useParams, useRouter } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading, RoleBadge } from "@/app/_components/ui";
import { roleAtLeast } from "@/contracts/roles";

export default function ProjectHomePage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  const [editing, setEditing] = useState(false);
  const update = useMutation(
    trpc.project.update.mutationOptions({
      onSuccess: () => {
        setEditing(false);
        return queryClient.invalidateQueries({ queryKey: trpc.project.get.queryKey({ projectId }) });
      },
    }),
  );
  const remove = useMutation(trpc.project.delete.mutationOptions({ onSuccess: () => router.push(`/orgs/${orgId}`) }));
  const policies = useQuery(trpc.policy.list.queryOptions({ projectId }));
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const runs = useQuery(trpc.run.list.queryOptions({ projectId, limit: 200 }));
  const models = useQuery(trpc.model.list.queryOptions({ projectId }));
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const endpoints = useQuery(trpc.endpoint.list.queryOptions({ projectId }));
  const sections = [
    { title: "Policies", path: "policies", count: policies.data?.length, text: "Written policies with clauses that cases cite." },
    { title: "Eval suites", path: "suites", count: suites.data?.length, text: "Test cases and graders, published as versions." },
    { title: "Runs", path: "runs", count: runs.data ? (runs.data.length >= 200 ? "200+" : runs.data.length) : undefined, text: "Training and eval runs, metrics and results." },
    { title: "Models", path: "models", count: models.data?.length, text: "Model versions, their lineage and promotions." },
    { title: "Datasets", path: "datasets", count: datasets.data?.length, text: "Corpora and instruction pairs for training." },
    { title: "Endpoints", path: "endpoints", count: endpoints.data?.length, text: "OpenAI-compatible models to evaluate, and serving this project's models." },
  ];
  const role = project.data?.role;
  const canEdit = roleAtLeast(role, "EDITOR");

  function onSave(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    update.mutate({ projectId, name: String(form.get("name")), description: String(form.get("description")) });
  }

  if (project.isLoading) return <Loading what="project" />;
  if (project.error) return <ErrorAlert error={project.error} />;
  const p = project.data!;

  return (
    <>
      <p className="muted">
        <Link href={`/orgs/${orgId}`}>← {p.org.name}</Link>
      </p>
      <div className="page-header">
        <div>
          <h1 data-testid="project-name">{p.name}</h1>
          <p className="subtitle">{p.description || "No description yet."}</p>
        </div>
        <div className="row">
          <RoleBadge role={role} />
          {canEdit && !editing ? (
            <button className="btn" onClick={() => setEditing(true)}>
              Edit project
            </button>
          ) : null}
        </div>
      </div>
      {!canEdit ? (
        <div className="alert alert-info" data-testid="read-only-notice">
          You have read-only access to this project.
        </div>
      ) : null}
      {editing ? (
        <section className="card">
          <h2>Edit project</h2>
          <ErrorAlert error={update.error && !update.error.data?.fieldErrors ? update.error : null} />
          <form className="stack" onSubmit={onSave}>
            <label className="field">
              Name
              <input name="name" defaultValue={p.name} required maxLength={80} />
              <span className="field-error">{fieldError(update.error, "name")}</span>
            </label>
            <label className="field">
              Description
              <textarea name="description" defaultValue={p.description} rows={3} maxLength={2000} />
              <span className="field-error">{fieldError(update.error, "description")}</span>
            </label>
            <div className="row">
              <button className="btn btn-primary" type="submit" disabled={update.isPending}>
                Save
              </button>
              <button className="btn" type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        </section>
      ) : null}
      <div className="grid" data-testid="project-sections">
        {sections.map((section) => (
          <Link key={section.title} href={`/orgs/${orgId}/projects/${projectId}/${section.path}`} className="tile">
            <h3>{section.title}</h3>
            <p className="tile-count" data-testid={`count-${section.path}`}>
              {section.count === undefined ? "…" : section.count}
            </p>
            <p>{section.text}</p>
          </Link>
        ))}
        <Link href={`/orgs/${orgId}/projects/${projectId}/train`} className="tile" data-testid="train-link">
          <h3>Train</h3>
          <p>Pre-train or fine-tune a small model on this device's GPU or your GPU nodes, and evaluate it.</p>
        </Link>
        <Link href={`/orgs/${orgId}/projects/${projectId}/dashboard`} className="tile">
          <h3>Dashboard</h3>
          <p>Scores per model version, policy coverage, regressions and where compute went.</p>
        </Link>
      </div>
      <section className="card" style={{ marginTop: "1.5rem" }}>
        <h2>Details</h2>
        <table className="table">
          <tbody>
            <tr>
              <th>Project id</th>
              <td className="mono">{p.id}</td>
            </tr>
            <tr>
              <th>Created</th>
              <td>{formatDate(p.createdAt)}</td>
            </tr>
            <tr>
              <th>Last changed</th>
              <td>{formatDate(p.updatedAt)}</td>
            </tr>
          </tbody>
        </table>
      </section>
      {roleAtLeast(role, "OWNER") ? (
        <section className="card">
          <h2>Danger zone</h2>
          <ErrorAlert error={remove.error} />
          <button
            className="btn btn-danger"
            onClick={() => {
              if (window.confirm(`Delete the project "${p.name}" and everything in it?`)) remove.mutate({ projectId });
            }}
          >
            Delete project
          </button>
        </section>
      ) : null}
    </>
  );
}
