// Hearth's own format: one EvalCase per line, keys in canonical order, so an export imported and
// exported again is byte-for-byte the same file (and hashes the same).
import { EvalCaseSchema, type EvalCase } from "../case";
import { canonicalJson } from "../hash";
import { forEachJsonLine, type LineError } from "./limits";

export interface ParsedCases {
  cases: EvalCase[];
  /** Every line that did not become a case, with why. */
  errors: LineError[];
}

export function parseHearthJsonl(text: string): ParsedCases {
  const cases: EvalCase[] = [];
  const errors: LineError[] = [];
  const idLines = new Map<string, number>();
  forEachJsonLine(text, errors, (value, line) => {
    const parsed = EvalCaseSchema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(case)"}: ${i.message}`);
      errors.push({ line, message: issues.join("; ") });
      return;
    }
    const first = idLines.get(parsed.data.id);
    if (first !== undefined) {
      errors.push({ line, message: `duplicate id "${parsed.data.id}" (first on line ${first})` });
      return;
    }
    idLines.set(parsed.data.id, line);
    cases.push(parsed.data);
  });
  return { cases, errors };
}

/** One canonical JSON object per line, each line ending in "\n". */
export function toHearthJsonl(cases: readonly EvalCase[]): string {
  return cases.map((c) => `${canonicalJson(c)}\n`).join("");
}
