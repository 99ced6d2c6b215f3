// Sources that hold data but no scoring (CSV, Langfuse, inspect_ai, OpenAI evals: the scorer lives in
// code or a registry, not in the file) get the grader chosen in the import dialog.
import type { GraderSpec } from "../case";
import type { ImportNote } from "./report";

export const GRADER_CHOICES = ["equals", "contains", "icontains", "starts-with", "similarity", "none"] as const;
export type GraderChoice = (typeof GRADER_CHOICES)[number];

const DESCRIBED: Record<GraderChoice, string> = {
  equals: "equals: the trimmed output equals the expected text (or one of them)",
  contains: "contains: the output contains the expected text (or one of them), case-sensitive",
  icontains: "icontains: the output contains the expected text (or one of them), ignoring case (inspect_ai's includes())",
  "starts-with": "starts-with: the output starts with the expected text (or one of them) (OpenAI evals' Match)",
  similarity: "similarity: edit-distance similarity to the expected text of at least 0.8",
  none: "none: cases are imported without graders and tagged needs-graders",
};

export function graderChoiceNote(file: string, choice: GraderChoice, why: string): ImportNote {
  return { file, field: "(grader)", message: `${why}; graded by the grader chosen at import, ${DESCRIBED[choice]}`, changesVerdict: false };
}

const escapeRegex = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** The graders for a case whose acceptable answers are `expected` (empty: none can be made). */
export function gradersFor(choice: GraderChoice, expected: string[]): GraderSpec[] {
  const values = expected.filter((v) => v !== "");
  if (choice === "none" || values.length === 0) return [];
  switch (choice) {
    case "equals":
      return values.length === 1 ? [{ type: "equals" }] : [{ type: "regex", pattern: `^\\s*(?:${values.map(escapeRegex).join("|")})\\s*$` }];
    case "contains":
    case "icontains":
      return [{ type: "contains", values, mode: "any", ...(choice === "icontains" ? { caseInsensitive: true } : {}) }];
    case "starts-with":
      return [{ type: "regex", pattern: `^(?:${values.map(escapeRegex).join("|")})` }];
    case "similarity":
      return [{ type: "similarity", ...(values.length > 1 ? { expected: values[0] } : {}) }];
  }
}
