import { DEFAULT_GRADER_WEIGHT } from "../case";
import type { Grader, GradeResult, GraderInput } from "./types";
import { failed } from "./util";

/** Grades a group the way promptfoo grades an `assert-set`; runLeaf is index.ts's runGrader (passed in to avoid an import cycle). */
export function makeGroupGrader(runLeaf: (spec: import("../case").GraderSpec, input: GraderInput) => Promise<GradeResult>): Grader<"group"> {
  return async (spec, input) => {
    const results: GradeResult[] = [];
    for (const child of spec.graders) results.push(await runLeaf(child, input));
    const weights = spec.graders.map((g) => g.weight ?? DEFAULT_GRADER_WEIGHT);
    const total = weights.reduce((a, b) => a + b, 0);
    if (total <= 0) return failed(spec, "every grader in the group has weight 0");
    const score = results.reduce((sum, r, k) => sum + r.score * weights[k], 0) / total;
    const pass = spec.threshold === undefined ? results.every((r) => r.pass) : score >= spec.threshold;
    const failedOnes = results.filter((r) => !r.pass).map((r) => `${r.grader}: ${r.reason}`);
    return {
      grader: "group",
      score,
      pass,
      reason: `${results.length - failedOnes.length}/${results.length} passed, score ${score.toFixed(3)}${spec.threshold === undefined ? "" : ` (threshold ${spec.threshold})`}${failedOnes.length ? `; ${failedOnes.slice(0, 3).join("; ")}` : ""}`,
    };
  };
}
