"use client";
// Import a Hugging Face folder as a new model version from the browser: the person chooses the
// folder, each file is hashed here, sent on its own (the server checks its sha256) with progress, and
// the version is created when the last has arrived. Choosing the same folder again after an
// interruption sends only what is missing.
import { useState } from "react";
import type { FolderDescription } from "@/contracts/model-folder";

type Stage = { kind: "idle" } | { kind: "hashing"; done: number; total: number } | { kind: "sending"; sent: number; total: number; file: string } | { kind: "checking" } | { kind: "done"; version: number } | { kind: "error"; message: string };

async function sha256Hex(file: File): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function api(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, { credentials: "same-origin", ...init });
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body?.error?.message ?? `The server answered HTTP ${res.status}.`);
  return body;
}

/** The folder's files with their paths inside it (the chosen folder's own name removed). */
function folderFiles(list: FileList): Array<{ path: string; file: File }> {
  return [...list]
    .map((file) => ({ path: (file.webkitRelativePath || file.name).split("/").slice(1).join("/") || file.name, file }))
    .filter((f) => !f.path.split("/").some((part) => part.startsWith(".")));
}

export function FolderImport({ modelId, onImported, label = "Import a Hugging Face folder…" }: { modelId: string; onImported: (version: { id: string; version: number }) => void; label?: string }) {
  const [stage, setStage] = useState<Stage>({ kind: "idle" });
  const busy = stage.kind === "hashing" || stage.kind === "sending" || stage.kind === "checking";

  async function importFolder(list: FileList) {
    try {
      const files = folderFiles(list);
      if (!files.length) throw new Error("The chosen folder is empty.");
      const manifest = [];
      for (const [i, f] of files.entries()) {
        setStage({ kind: "hashing", done: i, total: files.length });
        manifest.push({ path: f.path, sha256: await sha256Hex(f.file), size: f.file.size });
      }
      const base = `/api/models/${encodeURIComponent(modelId)}/uploads`;
      const state = (await api(base, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ files: manifest }) })) as { uploadId: string; missing: string[] };
      const toSend = files.filter((f) => state.missing.includes(f.path));
      const total = toSend.reduce((n, f) => n + f.file.size, 0);
      let sent = 0;
      for (const f of toSend) {
        setStage({ kind: "sending", sent, total, file: f.path });
        await api(`${base}/${state.uploadId}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`, { method: "PUT", headers: { "content-type": "application/octet-stream" }, body: f.file });
        sent += f.file.size;
      }
      setStage({ kind: "checking" });
      const version = (await api(`${base}/${state.uploadId}/commit`, { method: "POST" })) as { id: string; version: number };
      setStage({ kind: "done", version: version.version });
      onImported(version);
    } catch (e) {
      setStage({ kind: "error", message: (e as Error).message });
    }
  }

  return (
    <div data-testid="folder-import">
      <label className="btn">
        {label}
        <input
          type="file"
          data-testid="folder-input"
          // @ts-expect-error webkitdirectory is not in React's input props, but every browser supports it
          webkitdirectory=""
          multiple
          disabled={busy}
          style={{ display: "none" }}
          onChange={(e) => e.target.files && void importFolder(e.target.files)}
        />
      </label>{" "}
      <span className="hint">config.json, tokenizer files and safetensors weights, as save_pretrained writes them</span>
      {stage.kind === "hashing" ? <p className="hint">Checking files… {stage.done} of {stage.total}</p> : null}
      {stage.kind === "sending" ? (
        <p className="hint" data-testid="folder-progress">
          <progress max={Math.max(stage.total, 1)} value={stage.sent} /> Sending {stage.file} ({((stage.sent / Math.max(stage.total, 1)) * 100).toFixed(0)}%)
        </p>
      ) : null}
      {stage.kind === "checking" ? <p className="hint">Checking the model: configuration, tokenizer and every tensor…</p> : null}
      {stage.kind === "done" ? <div className="alert alert-ok" data-testid="folder-done">Imported as v{stage.version}.</div> : null}
      {stage.kind === "error" ? (
        <div className="alert alert-error" role="alert" data-testid="folder-error">
          {stage.message}
        </div>
      ) : null}
    </div>
  );
}

const bytes = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`);

const compact = (n: number) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n));

/** What a folder version is: architecture, size, dtype, context, license, where it runs. */
export function FolderSummary({ d }: { d: FolderDescription }) {
  return (
    <span data-testid="folder-summary">
      {d.architecture ?? d.modelType} · {compact(d.parameters)} parameters · {d.dtype} · context {d.contextLength.toLocaleString("en")}
      {d.license ? ` · ${d.license}` : ""} {d.browser ? null : <span className="badge badge-warn">GPU nodes only</span>}
    </span>
  );
}

export function FolderFiles({ modelVersionId }: { modelVersionId: string }) {
  const [files, setFiles] = useState<Array<{ path: string; size: number }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!files) {
    return (
      <button
        className="btn btn-small"
        onClick={() =>
          api(`/api/model-versions/${encodeURIComponent(modelVersionId)}/files`, {})
            .then((b) => setFiles(b.files as Array<{ path: string; size: number }>))
            .catch((e: Error) => setError(e.message))
        }
      >
        {error ?? "Files"}
      </button>
    );
  }
  return (
    <ul className="plain-list" data-testid="folder-files">
      {files.map((f) => (
        <li key={f.path}>
          <a className="mono" href={`/api/model-versions/${encodeURIComponent(modelVersionId)}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`} download>
            {f.path}
          </a>{" "}
          <span className="hint">{bytes(f.size)}</span>
        </li>
      ))}
      <li className="hint">Or: npx hearth model pull {modelVersionId} ./folder</li>
    </ul>
  );
}
