import type { EvalCase } from "@/gpu/eval/case";
import { parseHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { parseLmEvalJsonl } from "@/gpu/eval/formats/lm-eval-jsonl";
import { importPromptfoo } from "@/gpu/eval/formats/promptfoo-yaml";
import { importInspectJsonl } from "@/gpu/eval/formats/inspect";
import { importOpenAiEvalsJsonl } from "@/gpu/eval/formats/openai-evals";
import { importLangfuseDataset } from "@/gpu/eval/formats/langfuse";
import { importCsv, type CsvMapping } from "@/gpu/eval/formats/csv";
import type { GraderChoice } from "@/gpu/eval/formats/grader-choice";
import { summarizeImport, type ImportResult, type ImportSummary } from "@/gpu/eval/formats/report";
import { SourceFiles } from "@/gpu/eval/formats/source-files";
import type { LineError } from "@/gpu/eval/formats/limits";
import { DomainError } from "@/server/errors";
import { readZipTextFiles } from "./zip";

export const SUITE_IMPORT_FORMATS = ["hearth-jsonl", "promptfoo-yaml", "lm-eval-jsonl", "inspect-jsonl", "inspect-csv", "openai-evals-jsonl", "langfuse", "csv"] as const;
export type SuiteImportFormat = (typeof SUITE_IMPORT_FORMATS)[number];

/** Most notes returned to a client; the summary says how many there were. */
export const MAX_NOTES_RETURNED = 1_000;

export interface SuiteImportSource {
  format: SuiteImportFormat;
  /** One file's text. */
  content?: string;
  fileName?: string;
  /** A folder's files (promptfoo: file:// references resolve among them). */
  files?: { path: string; content: string }[];
  /** A zip of the folder, base64. */
  zipBase64?: string;
  /** For sources without graders (CSV, inspect_ai, OpenAI evals, Langfuse). */
  grader?: GraderChoice;
  /** For CSV: which column is which case field. */
  csv?: Omit<CsvMapping, "grader">;
}

export interface ImportedCases {
  cases: EvalCase[];
  summary: ImportSummary & { noteCount: number };
  /** One line per note, for API clients that read text. */
  warnings: string[];
}

function refuse(problems: string[]): never {
  const listed = problems.slice(0, 10).join("; ");
  throw new DomainError("BAD_REQUEST", `Nothing was imported: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the file. ${listed}${problems.length > 10 ? "; ..." : ""}`);
}

const lineProblems = (errors: LineError[]) => errors.map((e) => `line ${e.line}: ${e.message}`);

function sourceFiles(source: SuiteImportSource): SourceFiles {
  try {
    if (source.zipBase64 !== undefined) return new SourceFiles(readZipTextFiles(Buffer.from(source.zipBase64, "base64")));
    if (source.files) return new SourceFiles(source.files.map((f) => [f.path, f.content] as const));
    return SourceFiles.single(source.fileName?.split(/[\\/]/).pop() || "upload", source.content ?? "");
  } catch (e) {
    if (e instanceof DomainError) throw e;
    throw new DomainError("BAD_REQUEST", `Nothing was imported: ${(e as Error).message}.`);
  }
}

/** The one file of a single-file format (a folder or zip must hold exactly one). */
function onlyFile(files: SourceFiles): [string, string] {
  const paths = files.paths();
  if (paths.length !== 1) throw new DomainError("BAD_REQUEST", `This format reads one file; the upload holds ${paths.length}.`);
  return [paths[0], files.read(paths[0])!];
}

/** lm-eval's scoring and prompt template live in the task's YAML, not the JSONL: say what Hearth did instead. */
function lmEvalNotes(cases: EvalCase[], file: string): ImportResult["notes"] {
  const kept = new Set(cases.flatMap((c) => Object.keys((c.metadata?.doc as Record<string, unknown> | undefined) ?? {})));
  return [
    { file, field: "(task)", message: "the task's doc_to_text template and few-shot settings are in its YAML, not this file: the question field is the whole prompt, and choices are scored by log-likelihood (acc; acc_norm on request)", changesVerdict: false },
    ...(kept.size ? [{ file, field: [...kept].sort().join(", "), message: "not read by Hearth's grader; kept in each case's metadata.doc", changesVerdict: false }] : []),
  ];
}

/** Parses an upload into cases and a summary, writing nothing. A problem that stops the import refuses it whole, saying where. */
export function importSuiteSource(source: SuiteImportSource): ImportedCases {
  const files = sourceFiles(source);
  let result: ImportResult;
  if (source.format === "promptfoo-yaml") result = importPromptfoo(files);
  else {
    const [name, text] = onlyFile(files);
    switch (source.format) {
      case "hearth-jsonl":
      case "lm-eval-jsonl": {
        const parsed = source.format === "hearth-jsonl" ? parseHearthJsonl(text) : parseLmEvalJsonl(text);
        result = { cases: parsed.cases, notes: [], errors: lineProblems(parsed.errors) };
        if (source.format === "lm-eval-jsonl") result.notes.push(...lmEvalNotes(parsed.cases, name));
        break;
      }
      case "inspect-jsonl":
        result = importInspectJsonl(text, source.grader, name);
        break;
      case "openai-evals-jsonl":
        result = importOpenAiEvalsJsonl(text, source.grader, name);
        break;
      case "langfuse":
        result = importLangfuseDataset(text, source.grader, name);
        break;
      case "inspect-csv":
      case "csv": {
        const mapping = source.csv ?? (source.format === "inspect-csv" ? { input: "input", expected: "target", id: "id" } : undefined);
        if (!mapping) throw new DomainError("BAD_REQUEST", "Choose which CSV column holds the input.");
        result = importCsv(text, { ...mapping, grader: source.grader ?? (source.format === "inspect-csv" ? "icontains" : "equals") }, name);
        break;
      }
    }
  }
  if (result.errors.length) refuse(result.errors);
  if (!result.cases.length) throw new DomainError("BAD_REQUEST", "The file holds no cases.");
  const summary = summarizeImport(result);
  const warnings = result.notes.slice(0, MAX_NOTES_RETURNED).map((n) => `${n.file}${n.caseId ? ` case ${n.caseId}` : ""} ${n.field}: ${n.message}`);
  return { cases: result.cases, summary: { ...summary, notes: summary.notes.slice(0, MAX_NOTES_RETURNED), noteCount: result.notes.length }, warnings };
}

/** Kept for callers with one file of text (the MCP tool, older API clients). */
export function importSuiteFile(format: SuiteImportFormat, content: string): ImportedCases {
  return importSuiteSource({ format, content });
}
