// What every importer returns: the cases, and a note for each source field it did not honour exactly.
// A note that could change a verdict tags its case "needs-review"; publishing warns about those cases.
import type { EvalCase, GraderSpec } from "../case";

export const NEEDS_REVIEW_TAG = "needs-review";

export interface ImportNote {
  /** The source file, relative to the imported folder. */
  file: string;
  /** The id of the case concerned; absent for notes about the file as a whole. */
  caseId?: string;
  /** Where in the source, e.g. "tests[2].assert[0].transform". */
  field: string;
  /** What Hearth did instead. */
  message: string;
  /** True when the case's verdict could differ from the source tool's because of this. */
  changesVerdict: boolean;
}

export interface ImportResult {
  cases: EvalCase[];
  notes: ImportNote[];
  /** Problems that stop the import. */
  errors: string[];
}

export interface ImportSummary {
  caseCount: number;
  /** Grader type -> how many imported graders of that type (group children counted). */
  gradersMapped: Record<string, number>;
  notes: ImportNote[];
  /** Ids of the cases tagged needs-review. */
  reviewCaseIds: string[];
}

/** Tags every case named by a verdict-changing note (idempotent). */
export function tagCasesForReview(result: ImportResult): void {
  const ids = new Set(result.notes.filter((n) => n.changesVerdict && n.caseId).map((n) => n.caseId));
  for (const c of result.cases) if (ids.has(c.id) && !c.tags.includes(NEEDS_REVIEW_TAG)) c.tags.push(NEEDS_REVIEW_TAG);
}

export function summarizeImport(result: ImportResult): ImportSummary {
  const gradersMapped: Record<string, number> = {};
  const count = (g: GraderSpec) => {
    gradersMapped[g.type] = (gradersMapped[g.type] ?? 0) + 1;
    if (g.type === "group") g.graders.forEach(count);
  };
  result.cases.forEach((c) => c.graders.forEach(count));
  return {
    caseCount: result.cases.length,
    gradersMapped,
    notes: result.notes,
    reviewCaseIds: result.cases.filter((c) => c.tags.includes(NEEDS_REVIEW_TAG)).map((c) => c.id),
  };
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
