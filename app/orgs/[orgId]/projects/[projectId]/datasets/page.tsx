"use client";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

const KIND_LABEL = { CORPUS: "Text corpus (pre-training)", PAIRS: "Prompt/response JSONL (fine-tuning)", PREFERENCE: "Preferences JSONL (chosen/rejected or KTO thumbs)" } as const;

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** Sends the file as the request body; the server streams it to storage and validates it line by line. */
async function uploadFile(datasetId: string, file: File, onProgress: (fraction: number) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("POST", `/api/datasets/${encodeURIComponent(datasetId)}/versions`);
    request.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    request.onload = () => {
      if (request.status === 201) return resolve();
      let message = `Upload failed (HTTP ${request.status}).`;
      try {
        message = (JSON.parse(request.responseText) as { error: { message: string } }).error.message;
      } catch {
        // keep the generic message
      }
      reject(new Error(message));
    };
    request.onerror = () => reject(new Error("The upload was interrupted. Check the connection and try again."));
    request.send(file);
  });
}

function DatasetVersions({ datasetId, canEdit }: { datasetId: string; canEdit: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const dataset = useQuery(trpc.dataset.get.queryOptions({ datasetId }));
  const [progress, setProgress] = useState<number | null>(null);
  const [error, setError] = useState<Error | null>(null);

  async function onUpload(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const input = event.currentTarget.elements.namedItem("file") as HTMLInputElement;
    const file = input.files?.[0];
    if (!file) return;
    setError(null);
    setProgress(0);
    try {
      await uploadFile(datasetId, file, setProgress);
      input.value = "";
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: trpc.dataset.get.queryKey({ datasetId }) }),
        queryClient.invalidateQueries({ queryKey: trpc.dataset.list.pathKey() }),
      ]);
    } catch (e) {
      setError(e as Error);
    } finally {
      setProgress(null);
    }
  }

  if (dataset.isLoading) return <Loading what="versions" />;
  if (dataset.error) return <ErrorAlert error={dataset.error} />;
  const d = dataset.data!;
  return (
    <>
      {canEdit ? (
        <form className="inline" onSubmit={onUpload} style={{ marginBottom: "1rem" }}>
          <label className="field grow">
            New version <span className="hint">{d.kind === "PAIRS" ? 'JSON Lines: {"prompt": "...", "response": "..."} per line' : d.kind === "PREFERENCE" ? 'JSON Lines: {"prompt", "chosen", "rejected"} or {"prompt", "completion", "label": true|false}' : "UTF-8 text"}</span>
            <input name="file" type="file" required accept={d.kind !== "CORPUS" ? ".jsonl,.json,application/x-ndjson" : ".txt,.md,text/plain"} />
          </label>
          <button className="btn btn-primary" type="submit" disabled={progress !== null}>
            {progress === null ? "Upload" : `Uploading ${Math.round(progress * 100)}%`}
          </button>
        </form>
      ) : null}
      {progress !== null ? <progress max={1} value={progress} style={{ width: "100%" }} aria-label="Upload progress" /> : null}
      <ErrorAlert error={error} />
      {d.versions.length === 0 ? (
        <p className="muted">No versions yet.</p>
      ) : (
        <table className="table" data-testid="dataset-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Size</th>
              <th>Lines</th>
              {d.kind === "PAIRS" ? <th>Pairs</th> : null}
              <th>sha256</th>
              <th>Uploaded</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {d.versions.map((v) => (
              <tr key={v.id}>
                <td>v{v.version}</td>
                <td>{formatBytes(v.bytes)}</td>
                <td>{v.lines.toLocaleString()}</td>
                {d.kind === "PAIRS" ? <td>{String((v.stats as { pairs?: number }).pairs ?? "—")}</td> : null}
                <td className="mono" title={v.sha256}>
                  {v.sha256.slice(0, 12)}…
                </td>
                <td>{formatDate(v.createdAt)}</td>
                <td>
                  <a className="btn btn-small" href={`/api/dataset-versions/${v.id}/content`} download>
                    Download
                  </a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export default function DatasetsPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const access = useProjectAccess(projectId);
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const [open, setOpen] = useState<string | null>(null);
  const create = useMutation(
    trpc.dataset.create.mutationOptions({
      onSuccess: (d) => {
        setOpen(d.id);
        return queryClient.invalidateQueries({ queryKey: trpc.dataset.list.queryKey({ projectId }) });
      },
    }),
  );

  function onCreate(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    create.mutate({ projectId, name: String(form.get("name")), kind: form.get("kind") as "CORPUS" | "PAIRS" });
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Datasets</h1>
          <p className="subtitle">Corpora and instruction pairs, stored by content hash; every upload is a new immutable version.</p>
        </div>
      </div>
      {access.canEdit ? (
        <Section title="New dataset">
          <ErrorAlert error={create.error && !create.error.data?.fieldErrors ? create.error : null} />
          <form className="inline" onSubmit={onCreate}>
            <label className="field grow">
              Name
              <input name="name" required maxLength={120} placeholder="support-transcripts" />
              <span className="field-error">{fieldError(create.error, "name")}</span>
            </label>
            <label className="field">
              Kind
              <select name="kind" defaultValue="PAIRS">
                <option value="PAIRS">{KIND_LABEL.PAIRS}</option>
                <option value="CORPUS">{KIND_LABEL.CORPUS}</option>
              </select>
            </label>
            <button className="btn btn-primary" type="submit" disabled={create.isPending}>
              Create dataset
            </button>
          </form>
        </Section>
      ) : null}
      <ErrorAlert error={datasets.error} />
      {datasets.isLoading ? <Loading what="datasets" /> : null}
      {datasets.data?.length === 0 ? <div className="card empty">No datasets yet.</div> : null}
      {datasets.data?.map((d) => (
        <section key={d.id} id={d.id} className="card">
          <div className="row" style={{ justifyContent: "space-between" }}>
            <div>
              <h2 style={{ marginBottom: 0 }}>{d.name}</h2>
              <span className="hint">
                {KIND_LABEL[d.kind]} · {d._count.versions} version{d._count.versions === 1 ? "" : "s"}
              </span>
            </div>
            <button className="btn btn-small" onClick={() => setOpen(open === d.id ? null : d.id)} aria-expanded={open === d.id}>
              {open === d.id ? "Hide versions" : "Versions"}
            </button>
          </div>
          {open === d.id ? (
            <div style={{ marginTop: "1rem" }}>
              <DatasetVersions datasetId={d.id} canEdit={access.canEdit} />
            </div>
          ) : null}
        </section>
      ))}
    </>
  );
}
