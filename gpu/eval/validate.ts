import { EvalCaseSchema, type EvalCase, type GraderSpec } from "./case";
import { extractNumber } from "./graders/numeric";
import { checkJsonSchema } from "./json-schema";
import { checkRegexSafety } from "./regex-safety";

export interface CaseProblem {
  /** Position of the case in the suite. */
  index: number;
  /** The case id when it has a readable one. */
  caseId?: string;
  /** Dotted path inside the case, e.g. "graders.1.pattern". */
  field: string;
  message: string;
}

/**
 * Every problem in a suite's cases, for inline display: schema errors, duplicate ids, cases that
 * cannot be graded (no graders, multiple choice without choices, no expected value), unsafe regexes
 * and unusable JSON schemas. An empty list means the suite can be published.
 */
export function validateSuiteCases(cases: readonly unknown[]): CaseProblem[] {
  const problems: CaseProblem[] = [];
  const seen = new Map<string, number>();
  cases.forEach((raw, index) => {
    const rawId = typeof raw === "object" && raw !== null ? (raw as { id?: unknown }).id : undefined;
    const caseId = typeof rawId === "string" ? rawId : undefined;
    const add = (field: string, message: string) => problems.push({ index, caseId, field, message });
    if (caseId !== undefined) {
      const first = seen.get(caseId);
      if (first !== undefined) add("id", `duplicate id "${caseId}" (also case #${first + 1})`);
      else seen.set(caseId, index);
    }
    const parsed = EvalCaseSchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) add(issue.path.join(".") || "(case)", issue.message);
      return;
    }
    for (const p of caseProblems(parsed.data)) add(p.field, p.message);
  });
  return problems;
}

function caseProblems(c: EvalCase): { field: string; message: string }[] {
  const out: { field: string; message: string }[] = [];
  const add = (field: string, message: string) => out.push({ field, message });
  if (c.graders.length === 0) add("graders", "a case needs at least one grader");
  else if (c.graders.every((g) => (g.weight ?? 1) === 0)) add("graders", "at least one grader needs a weight above 0");
  if (c.answerIndex !== undefined && !c.choices) add("answerIndex", "answerIndex needs choices");
  if (c.choices && c.answerIndex !== undefined && c.answerIndex >= c.choices.length) {
    add("answerIndex", `answerIndex ${c.answerIndex} is out of range for ${c.choices.length} choices`);
  }
  const check = (g: GraderSpec, at: string): void => {
    switch (g.type) {
      case "multiple-choice":
        if (!c.choices) add("choices", "a multiple-choice case needs choices");
        if (c.answerIndex === undefined) add("answerIndex", "a multiple-choice case needs answerIndex");
        break;
      case "regex": {
        const problem = checkRegexSafety(g.pattern, g.flags ?? "");
        if (problem) add(/^(a )?flag/.test(problem) ? `${at}.flags` : `${at}.pattern`, problem);
        break;
      }
      case "json-schema":
        for (const problem of checkJsonSchema(g.schema)) add(`${at}.schema`, problem);
        break;
      case "equals":
        if (g.value === undefined && c.expected === undefined) add(`${at}.value`, "set a value or the case's expected output");
        break;
      case "similarity":
        if (g.expected === undefined && c.expected === undefined) add(`${at}.expected`, "set expected or the case's expected output");
        break;
      case "numeric":
        if (g.expected === undefined && (c.expected === undefined || extractNumber(c.expected, "whole") === undefined)) {
          add(`${at}.expected`, "set expected or make the case's expected output a number");
        }
        break;
      case "group":
        g.graders.forEach((child, j) => check(child, `${at}.graders.${j}`));
        break;
    }
  };
  c.graders.forEach((g, k) => check(g, `graders.${k}`));
  return out;
}
