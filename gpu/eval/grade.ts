import { DEFAULT_CASE_THRESHOLD, DEFAULT_GRADER_WEIGHT, type EvalCase } from "./case";
import { runGrader } from "./graders";
import type { GradeContext, GradeResult } from "./graders/types";

export interface CaseResult {
  caseId: string;
  /** Weighted mean of the grader scores, in [0, 1]. */
  score: number;
  /** The weighted share of graders that passed reached the case threshold (default 1: all passed). */
  pass: boolean;
  graders: GradeResult[];
}

/**
 * Grades one output against every grader of a case. One bad grader never aborts the case: it
 * becomes a failing result. A case without graders (or whose weights are all zero) fails.
 */
export async function gradeCase(evalCase: EvalCase, output: string, context: GradeContext = {}): Promise<CaseResult> {
  const results: GradeResult[] = [];
  for (const spec of evalCase.graders) results.push(await runGrader(spec, { ...context, output, case: evalCase }));
  const weights = evalCase.graders.map((g) => g.weight ?? DEFAULT_GRADER_WEIGHT);
  const total = weights.reduce((a, b) => a + b, 0);
  if (evalCase.scoring === "mean-score") {
    // promptfoo's rule: the weighted mean score against the threshold, else every grader passes.
    const score = total > 0 ? results.reduce((sum, r, k) => sum + r.score * weights[k], 0) / total : 0;
    const pass = evalCase.graders.length > 0 && (evalCase.threshold === undefined ? results.every((r) => r.pass) : score >= evalCase.threshold);
    return { caseId: evalCase.id, score, pass, graders: results };
  }
  if (total <= 0) return { caseId: evalCase.id, score: 0, pass: false, graders: results };
  const score = results.reduce((sum, r, k) => sum + r.score * weights[k], 0) / total;
  const passedShare = results.reduce((sum, r, k) => sum + (r.pass ? weights[k] : 0), 0) / total;
  // A tiny epsilon so 0.1 + 0.2-style float sums do not fail a share that is exactly the threshold.
  const pass = passedShare + 1e-9 >= (evalCase.threshold ?? DEFAULT_CASE_THRESHOLD);
  return { caseId: evalCase.id, score, pass, graders: results };
}
