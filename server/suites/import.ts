import type { EvalCase } from "@/gpu/eval/case";
import { parseHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { DomainError } from "@/server/errors";

export const SUITE_IMPORT_FORMATS = ["hearth-jsonl"] as const;
export type SuiteImportFormat = (typeof SUITE_IMPORT_FORMATS)[number];

export interface ImportedCases {
  cases: EvalCase[];
  /** Things imported with a caveat (e.g. an assertion type Hearth cannot run), never silently dropped. */
  warnings: string[];
}

/** Parses an uploaded suite file. Any line that cannot become a case refuses the whole import, naming the lines. */
export function importSuiteFile(format: SuiteImportFormat, content: string): ImportedCases {
  const parsed = parseHearthJsonl(content);
  if (parsed.errors.length) {
    const listed = parsed.errors.slice(0, 10).map((e) => `line ${e.line}: ${e.message}`);
    throw new DomainError("BAD_REQUEST", `The file has ${parsed.errors.length} invalid line${parsed.errors.length === 1 ? "" : "s"}, nothing was imported. ${listed.join("; ")}${parsed.errors.length > 10 ? "; ..." : ""}`);
  }
  if (!parsed.cases.length) throw new DomainError("BAD_REQUEST", "The file holds no cases.");
  return { cases: parsed.cases, warnings: [] };
}
