import type { EvalCase } from "@/gpu/eval/case";
import { parseHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { parseLmEvalJsonl } from "@/gpu/eval/formats/lm-eval-jsonl";
import { parsePromptfooYaml } from "@/gpu/eval/formats/promptfoo-yaml";
import type { LineError } from "@/gpu/eval/formats/limits";
import { DomainError } from "@/server/errors";

export const SUITE_IMPORT_FORMATS = ["hearth-jsonl", "promptfoo-yaml", "lm-eval-jsonl"] as const;
export type SuiteImportFormat = (typeof SUITE_IMPORT_FORMATS)[number];

export interface ImportedCases {
  cases: EvalCase[];
  /** Things imported with a caveat (e.g. an assertion type Hearth cannot run), never silently dropped. */
  warnings: string[];
}

function refuse(problems: string[]): never {
  const listed = problems.slice(0, 10).join("; ");
  throw new DomainError("BAD_REQUEST", `Nothing was imported: ${problems.length} problem${problems.length === 1 ? "" : "s"} in the file. ${listed}${problems.length > 10 ? "; ..." : ""}`);
}

const lineProblems = (errors: LineError[]) => errors.map((e) => `line ${e.line}: ${e.message}`);

/** Parses an uploaded suite file. Any part that cannot become a case refuses the whole import, saying where. */
export function importSuiteFile(format: SuiteImportFormat, content: string): ImportedCases {
  let result: ImportedCases;
  if (format === "promptfoo-yaml") {
    const parsed = parsePromptfooYaml(content);
    if (parsed.errors.length) refuse(parsed.errors);
    result = { cases: parsed.cases, warnings: parsed.warnings.map((w) => `${w.test >= 0 ? `test ${w.test + 1}` : "file"}${w.type ? ` (${w.type})` : ""}: ${w.message}`) };
  } else {
    const parsed = format === "hearth-jsonl" ? parseHearthJsonl(content) : parseLmEvalJsonl(content);
    if (parsed.errors.length) refuse(lineProblems(parsed.errors));
    result = { cases: parsed.cases, warnings: [] };
  }
  if (!result.cases.length) throw new DomainError("BAD_REQUEST", "The file holds no cases.");
  return result;
}
