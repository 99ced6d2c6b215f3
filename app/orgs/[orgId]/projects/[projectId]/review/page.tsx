"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

/** Pasted items: one JSON object per line with "input", "output" and optionally "expected". */
function parseItems(text: string): { input: string; output: string; expected?: string }[] {
  return text
    .split("\n")
    .filter((line) => line.trim())
    .map((line, i) => {
      let value: { input?: unknown; output?: unknown; expected?: unknown };
      try {
        value = JSON.parse(line);
      } catch {
        throw new Error(`Line ${i + 1} is not JSON.`);
      }
      if (typeof value.input !== "string" || typeof value.output !== "string") throw new Error(`Line ${i + 1} needs string "input" and "output".`);
      return { input: value.input, output: value.output, ...(typeof value.expected === "string" ? { expected: value.expected } : {}) };
    });
}

function NewQueue({ projectId }: { projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const create = useMutation(trpc.review.create.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.review.list.queryKey({ projectId }) }) }));
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const categories = String(form.get("categories") ?? "").split(",").map((c) => c.trim()).filter(Boolean);
    const min = String(form.get("min") ?? "");
    const max = String(form.get("max") ?? "");
    create.mutate({
      projectId,
      name: String(form.get("name")),
      reviewersPerItem: Number(form.get("reviewersPerItem") || 1),
      servedSampleRate: Number(form.get("servedSampleRate") || 0),
      scoreSchema: {
        pass: form.get("pass") === "on",
        categories,
        numeric: min !== "" && max !== "" ? { min: Number(min), max: Number(max), step: 1 } : null,
        correction: form.get("correction") === "on",
        comment: true,
      },
    });
  }
  return (
    <Section title="New review queue">
      <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
      <form className="inline" onSubmit={onSubmit}>
        <label className="field grow">
          Name
          <input name="name" required maxLength={120} placeholder="refund answers" />
          <span className="field-error">{fieldError(create.error, "name")}</span>
        </label>
        <label className="field">
          <span>
            <input type="checkbox" name="pass" defaultChecked /> Pass/fail
          </span>
        </label>
        <label className="field">
          Labels <span className="hint">comma-separated</span>
          <input name="categories" placeholder="helpful, evasive, wrong" />
        </label>
        <label className="field">
          Score from
          <input name="min" type="number" style={{ width: "5rem" }} />
        </label>
        <label className="field">
          to
          <input name="max" type="number" style={{ width: "5rem" }} />
        </label>
        <label className="field">
          <span>
            <input type="checkbox" name="correction" /> Corrected output
          </span>
        </label>
        <label className="field">
          Reviewers per item
          <input name="reviewersPerItem" type="number" min={1} max={10} defaultValue={1} style={{ width: "5rem" }} />
        </label>
        <label className="field">
          Served sample rate
          <input name="servedSampleRate" type="number" min={0} max={1} step={0.01} defaultValue={0} style={{ width: "6rem" }} />
        </label>
        <button className="btn btn-primary" type="submit" disabled={create.isPending}>
          Create queue
        </button>
      </form>
      <span className="field-error">{fieldError(create.error, "scoreSchema")}</span>
    </Section>
  );
}

function AddItems({ queueId, projectId }: { queueId: string; projectId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [problem, setProblem] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.review.list.queryKey({ projectId }) });
  const add = useMutation(trpc.review.addItems.mutationOptions({ onSuccess: refresh }));
  const addResults = useMutation(trpc.review.addResults.mutationOptions({ onSuccess: refresh }));
  return (
    <div className="stack" style={{ marginTop: "0.75rem" }}>
      <ErrorAlert error={add.error ?? addResults.error} />
      {problem ? <p className="field-error">{problem}</p> : null}
      <form
        className="inline"
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          const filter = String(form.get("filter"));
          addResults.mutate({ reviewQueueId: queueId, runId: String(form.get("runId")), ...(filter === "failed" ? { pass: false } : filter === "passed" ? { pass: true } : {}), ...(form.get("tag") ? { tag: String(form.get("tag")) } : {}) });
        }}
      >
        <label className="field grow">
          Eval run id
          <input name="runId" required />
        </label>
        <label className="field">
          Results
          <select name="filter" defaultValue="failed">
            <option value="failed">failed</option>
            <option value="passed">passed</option>
            <option value="all">all</option>
          </select>
        </label>
        <label className="field">
          Tag
          <input name="tag" />
        </label>
        <button className="btn" type="submit" disabled={addResults.isPending}>
          Add results
        </button>
        {addResults.data ? <span className="hint">{addResults.data.added} added</span> : null}
      </form>
      <form
        className="inline"
        onSubmit={(event) => {
          event.preventDefault();
          setProblem(null);
          try {
            add.mutate({ reviewQueueId: queueId, items: parseItems(String(new FormData(event.currentTarget).get("items"))) });
          } catch (e) {
            setProblem((e as Error).message);
          }
        }}
      >
        <label className="field grow">
          Items by hand <span className="hint">{'one JSON object a line: {"input": "...", "output": "...", "expected": "..."}'}</span>
          <textarea name="items" rows={3} className="editor-text" required />
        </label>
        <button className="btn" type="submit" disabled={add.isPending}>
          Add items
        </button>
        {add.data ? <span className="hint">{add.data.added} added</span> : null}
      </form>
    </div>
  );
}

/** A queue's labels as a new dataset version: corrected outputs (pairs) or preferences. */
function ExportLabels({ queueId, projectId, base }: { queueId: string; projectId: string; base: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const exported = useMutation(trpc.review.exportDataset.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.dataset.list.queryKey({ projectId }) }) }));
  return (
    <form
      className="inline"
      style={{ marginTop: "0.75rem" }}
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        exported.mutate({ reviewQueueId: queueId, format: form.get("format") as "sft" | "preference" | "kto", datasetName: String(form.get("datasetName")) });
      }}
    >
      <label className="field">
        Export labels as
        <select name="format" defaultValue="sft">
          <option value="sft">fine-tuning pairs (corrected outputs)</option>
          <option value="preference">preferences (chosen/rejected)</option>
          <option value="kto">preferences (KTO thumbs)</option>
        </select>
      </label>
      <label className="field grow">
        Dataset
        <input name="datasetName" required maxLength={120} placeholder="reviewed-corrections" />
      </label>
      <button className="btn" type="submit" disabled={exported.isPending}>
        Export
      </button>
      <ErrorAlert error={exported.error} />
      {exported.data ? (
        <span className="hint">
          {exported.data.lines} lines as version {exported.data.version.version} of <Link href={`${base.replace(/\/review$/, "")}/datasets#${exported.data.datasetId}`}>the dataset</Link>
        </span>
      ) : null}
    </form>
  );
}

function ServedLog({ projectId, canManage, canEdit, base }: { projectId: string; canManage: boolean; canEdit: boolean; base: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const settings = useQuery(trpc.servedLog.settings.queryOptions({ projectId }));
  const recent = useQuery(trpc.servedLog.list.queryOptions({ projectId, limit: 20 }));
  const configure = useMutation(trpc.servedLog.configure.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.servedLog.settings.queryKey({ projectId }) }) }));
  if (!settings.data) return <ErrorAlert error={settings.error} />;
  return (
    <Section title="Served-request log">
      <p className="hint">
        {settings.data.enabled ? `On: /v1 requests of this project's models are kept for ${settings.data.retentionDays} days.` : "Off: nothing served at /v1 is kept."} {settings.data.stored} kept now.
      </p>
      <ErrorAlert error={configure.error} />
      {canManage ? (
        <form
          className="inline"
          onSubmit={(event) => {
            event.preventDefault();
            const form = new FormData(event.currentTarget);
            configure.mutate({ projectId, enabled: form.get("enabled") === "on", retentionDays: Number(form.get("retentionDays")) });
          }}
        >
          <label className="field">
            <span>
              <input type="checkbox" name="enabled" defaultChecked={settings.data.enabled} /> Keep served requests
            </span>
          </label>
          <label className="field">
            Retention (days)
            <input name="retentionDays" type="number" min={1} max={3650} defaultValue={settings.data.retentionDays} style={{ width: "6rem" }} />
          </label>
          <button className="btn" type="submit" disabled={configure.isPending}>
            Save
          </button>
        </form>
      ) : null}
      {recent.data?.length ? (
        <table className="table" data-testid="served-requests">
          <thead>
            <tr>
              <th>When</th>
              <th>Model</th>
              <th>Prompt</th>
              <th>Output</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {recent.data.map((r) => (
              <tr key={r.id}>
                <td>{formatDate(r.createdAt)}</td>
                <td>
                  <code>{r.model}</code>
                </td>
                <td>
                  <pre className="cell-text">{r.prompt}</pre>
                </td>
                <td>
                  <pre className="cell-text">{r.output}</pre>
                </td>
                <td>{canEdit ? <Link href={`${base}/make-case?served=${r.id}`}>Make a case</Link> : null}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </Section>
  );
}

export default function ReviewQueuesPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const access = useProjectAccess(projectId);
  const queues = useQuery(trpc.review.list.queryOptions({ projectId }));
  const [open, setOpen] = useState<string | null>(null);
  const base = `/orgs/${orgId}/projects/${projectId}/review`;
  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Review</h1>
          <p className="subtitle">People label outputs by a queue&apos;s score schema; labels calibrate judges and become training data.</p>
        </div>
        <div className="inline">
          <Link className="btn" href={`${base}/judges`}>
            Judges
          </Link>
          {access.canEdit ? (
            <Link className="btn" href={`${base}/make-case`}>
              Make a case from pasted text
            </Link>
          ) : null}
        </div>
      </div>
      {access.canApprove ? <NewQueue projectId={projectId} /> : null}
      <ErrorAlert error={queues.error} />
      {queues.isLoading ? <Loading what="review queues" /> : null}
      {queues.data?.length === 0 ? <div className="card empty">No review queues yet.</div> : null}
      {queues.data?.map((q) => (
        <section key={q.id} className="card" data-testid="review-queue">
          <div className="row" style={{ justifyContent: "space-between" }}>
            <div>
              <h2 style={{ marginBottom: 0 }}>{q.name}</h2>
              <span className="hint">
                {q.progress.done} of {q.progress.items} items done · {q.reviewersPerItem} reviewer{q.reviewersPerItem === 1 ? "" : "s"} per item · since {formatDate(q.createdAt)}
              </span>
            </div>
            <div className="row">
              {access.canEdit ? (
                <Link className="btn btn-primary" href={`${base}/${q.id}`}>
                  Review
                </Link>
              ) : null}
              <Link className="btn" href={`${base}/${q.id}/agreement`}>
                Agreement
              </Link>
              {access.canApprove ? (
                <button className="btn btn-small" onClick={() => setOpen(open === q.id ? null : q.id)} aria-expanded={open === q.id}>
                  Add items
                </button>
              ) : null}
            </div>
          </div>
          {open === q.id ? <AddItems queueId={q.id} projectId={projectId} /> : null}
          {access.canEdit ? <ExportLabels queueId={q.id} projectId={projectId} base={base} /> : null}
        </section>
      ))}
      <ServedLog projectId={projectId} canManage={access.canApprove} canEdit={access.canEdit} base={base} />
    </>
  );
}
