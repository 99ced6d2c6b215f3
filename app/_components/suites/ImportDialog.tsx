"use client";
// The import dialog: choose a source, see what the import would add (cases, graders mapped, every
// field Hearth did not honour, cases tagged for review) and only then write the cases.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useState, type ChangeEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";
import { Section } from "@/app/_components/records";
import { csvColumns } from "@/gpu/eval/formats/csv";
import { GRADER_CHOICES, type GraderChoice } from "@/gpu/eval/formats/grader-choice";

const MAX_BYTES = 50_000_000;

const FORMATS = [
  { id: "hearth-jsonl", label: "Hearth JSONL" },
  { id: "promptfoo-yaml", label: "promptfoo config (YAML, folder or zip)" },
  { id: "inspect-jsonl", label: "inspect_ai samples (JSONL)" },
  { id: "inspect-csv", label: "inspect_ai samples (CSV)" },
  { id: "openai-evals-jsonl", label: "OpenAI evals samples (JSONL)" },
  { id: "langfuse", label: "Langfuse dataset export (JSON)" },
  { id: "csv", label: "CSV (choose the columns)" },
  { id: "lm-eval-jsonl", label: "lm-eval JSONL (multiple choice)" },
] as const;
type Format = (typeof FORMATS)[number]["id"];
const CHOOSES_GRADER: Format[] = ["inspect-jsonl", "inspect-csv", "openai-evals-jsonl", "langfuse", "csv"];
const DEFAULT_GRADER: Partial<Record<Format, GraderChoice>> = { "inspect-jsonl": "icontains", "inspect-csv": "icontains", "openai-evals-jsonl": "starts-with", langfuse: "equals", csv: "equals" };

type Upload = { content: string; fileName: string } | { files: { path: string; content: string }[] } | { zipBase64: string; fileName: string };

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

export function ImportDialog({ suiteId }: { suiteId: string }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [format, setFormat] = useState<Format>("promptfoo-yaml");
  const [grader, setGrader] = useState<GraderChoice | "">("");
  const [upload, setUpload] = useState<Upload | null>(null);
  const [columns, setColumns] = useState<string[]>([]);
  const [mapping, setMapping] = useState<{ input: string; expected: string; id: string; tags: string }>({ input: "", expected: "", id: "", tags: "" });
  const [mode, setMode] = useState<"append" | "replace">("append");
  const [localError, setLocalError] = useState<string | null>(null);
  const preview = useMutation(trpc.suite.previewImport.mutationOptions());
  const importCases = useMutation(trpc.suite.importCases.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.suite.pathKey() }) }));

  const reset = () => {
    preview.reset();
    importCases.reset();
  };

  async function onFiles(event: ChangeEvent<HTMLInputElement>) {
    reset();
    setLocalError(null);
    setUpload(null);
    const list = Array.from(event.target.files ?? []);
    if (!list.length) return;
    const total = list.reduce((n, f) => n + f.size, 0);
    if (total > MAX_BYTES) return setLocalError("The upload is larger than 50 MB.");
    if (list.length === 1 && /\.zip$/i.test(list[0].name)) {
      setUpload({ zipBase64: toBase64(new Uint8Array(await list[0].arrayBuffer())), fileName: list[0].name });
      return;
    }
    if (list.length > 1 || list[0].webkitRelativePath) {
      const files = await Promise.all(list.map(async (f) => ({ path: f.webkitRelativePath || f.name, content: await f.text() })));
      setUpload({ files });
      return;
    }
    const content = await list[0].text();
    setUpload({ content, fileName: list[0].name });
    if (format === "csv") {
      const header = csvColumns(content);
      setColumns(header);
      setMapping({ input: header[0] ?? "", expected: header[1] ?? "", id: "", tags: "" });
    }
  }

  function source() {
    if (!upload) return null;
    const chosen = CHOOSES_GRADER.includes(format) ? { grader: (grader || DEFAULT_GRADER[format]) as GraderChoice } : {};
    const csv = format === "csv" ? { csv: { input: mapping.input, ...(mapping.expected ? { expected: mapping.expected } : {}), ...(mapping.id ? { id: mapping.id } : {}), ...(mapping.tags ? { tags: mapping.tags } : {}) } } : {};
    return { suiteId, format, ...upload, ...chosen, ...csv };
  }

  function onPreview() {
    const s = source();
    if (!s) return setLocalError("Choose a file, folder or zip to import.");
    if (format === "csv" && !mapping.input) return setLocalError("Choose the column that holds the input.");
    importCases.reset();
    preview.mutate(s);
  }

  function onImport() {
    const s = source();
    if (s) importCases.mutate({ ...s, mode });
  }

  const summary = preview.data?.summary;
  const column = (key: keyof typeof mapping, label: string, optional: boolean) => (
    <label className="field">
      {label}
      <select value={mapping[key]} onChange={(e) => { reset(); setMapping({ ...mapping, [key]: e.target.value }); }} aria-label={`${label} column`}>
        {optional ? <option value="">(none)</option> : null}
        {columns.map((c) => <option key={c}>{c}</option>)}
      </select>
    </label>
  );

  return (
    <Section title="Import cases">
      {localError ? <div className="alert alert-error" role="alert">{localError}</div> : null}
      <ErrorAlert error={preview.error ?? importCases.error} />
      <div className="inline">
        <label className="field">
          Format
          <select name="format" value={format} onChange={(e) => { reset(); setUpload(null); setColumns([]); setFormat(e.target.value as Format); }}>
            {FORMATS.map((f) => <option key={f.id} value={f.id}>{f.label}</option>)}
          </select>
        </label>
        <label className="field">
          File or zip
          <input type="file" name="file" accept=".jsonl,.json,.yaml,.yml,.csv,.txt,.zip" onChange={onFiles} data-testid="import-file" />
        </label>
        {format === "promptfoo-yaml" ? (
          <label className="field">
            or a folder
            <input type="file" name="folder" multiple onChange={onFiles} {...({ webkitdirectory: "" } as Record<string, string>)} />
          </label>
        ) : null}
        {CHOOSES_GRADER.includes(format) ? (
          <label className="field">
            Grade with
            <select value={grader || DEFAULT_GRADER[format]} onChange={(e) => { reset(); setGrader(e.target.value as GraderChoice); }}>
              {GRADER_CHOICES.map((g) => <option key={g}>{g}</option>)}
            </select>
          </label>
        ) : null}
      </div>
      {format === "csv" && columns.length ? (
        <div className="inline" data-testid="csv-mapping">
          {column("input", "Input", false)}
          {column("expected", "Expected", true)}
          {column("id", "Id", true)}
          {column("tags", "Tags", true)}
        </div>
      ) : null}
      <div className="inline">
        <button className="btn" type="button" onClick={onPreview} disabled={preview.isPending || !upload}>
          {preview.isPending ? "Reading…" : "Preview import"}
        </button>
      </div>

      {summary && !importCases.data ? (
        <div className="stack" data-testid="import-summary">
          <p>
            <strong>{summary.caseCount}</strong> case{summary.caseCount === 1 ? "" : "s"} would be added; nothing has been written yet.
          </p>
          <p className="hint">
            Graders mapped: {Object.entries(summary.gradersMapped).map(([type, n]) => `${type} ${n}`).join(", ") || "none"}
          </p>
          {summary.reviewCaseIds.length ? (
            <div className="alert alert-warn" data-testid="import-review">
              {summary.reviewCaseIds.length} case{summary.reviewCaseIds.length === 1 ? "" : "s"} will be tagged <span className="badge">needs-review</span>: their verdict
              could differ from the source tool&apos;s because a field below was not honoured: {summary.reviewCaseIds.slice(0, 20).join(", ")}
              {summary.reviewCaseIds.length > 20 ? ", …" : ""}
            </div>
          ) : null}
          {preview.data?.firstCases.length ? (
            <details>
              <summary className="hint">First {preview.data.firstCases.length} cases as they would be written</summary>
              <table className="table" data-testid="import-first-cases">
                <thead>
                  <tr>
                    <th>Id</th>
                    <th>Input</th>
                    <th>Graders</th>
                    <th>Tags</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.data.firstCases.map((c) => (
                    <tr key={c.id}>
                      <td className="mono">{c.id}</td>
                      <td><pre className="cell-text">{typeof c.input === "string" ? c.input : c.input.map((m) => `${m.role}: ${m.content}`).join("\n")}</pre></td>
                      <td className="hint">{c.graders.map((g) => `${g.negate ? "not " : ""}${g.type}`).join(", ") || "none"}</td>
                      <td>{c.tags.map((t) => <span key={t} className="badge">{t}</span>)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </details>
          ) : null}
          {summary.notes.length ? (
            <div className="scroll-x">
              <table className="table" data-testid="import-notes">
                <thead>
                  <tr>
                    <th>File</th>
                    <th>Case</th>
                    <th>Field</th>
                    <th>What Hearth did instead</th>
                    <th>Verdict</th>
                  </tr>
                </thead>
                <tbody>
                  {summary.notes.slice(0, 300).map((n, i) => (
                    <tr key={i}>
                      <td className="mono">{n.file}</td>
                      <td className="mono">{n.caseId ?? "(all)"}</td>
                      <td className="mono">{n.field}</td>
                      <td>{n.message}</td>
                      <td>{n.changesVerdict ? <span className="badge badge-warn">may differ</span> : <span className="hint">same</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {summary.noteCount > 300 ? <p className="hint">First 300 of {summary.noteCount} fields reported.</p> : null}
            </div>
          ) : (
            <p className="hint">Every field of the source was honoured.</p>
          )}
          <div className="inline">
            <label className="field">
              Mode
              <select value={mode} onChange={(e) => setMode(e.target.value as "append" | "replace")}>
                <option value="append">add to the cases</option>
                <option value="replace">replace all cases</option>
              </select>
            </label>
            <button className="btn btn-primary" type="button" onClick={onImport} disabled={importCases.isPending}>
              {importCases.isPending ? "Importing…" : `Import ${summary.caseCount} case${summary.caseCount === 1 ? "" : "s"}`}
            </button>
          </div>
        </div>
      ) : null}
      {importCases.data ? (
        <div className="alert alert-ok" data-testid="import-result">
          Imported {importCases.data.imported} case{importCases.data.imported === 1 ? "" : "s"}; the working copy now has {importCases.data.caseCount}.
          {importCases.data.summary.reviewCaseIds.length ? ` ${importCases.data.summary.reviewCaseIds.length} tagged needs-review.` : ""}
        </div>
      ) : null}
    </Section>
  );
}
