import { checkRegexSafety, compileSafeRegex, MAX_REGEX_INPUT } from "../regex-safety";
import type { Grader } from "./types";
import { failed, scored } from "./util";

export const gradeRegex: Grader<"regex"> = (spec, { output }) => {
  const problem = checkRegexSafety(spec.pattern, spec.flags ?? "");
  if (problem) return failed(spec, `regex refused: ${problem}`);
  if (output.length > MAX_REGEX_INPUT) {
    return failed(spec, `output is ${output.length} characters; regex graders match at most ${MAX_REGEX_INPUT}`);
  }
  const matched = compileSafeRegex(spec.pattern, spec.flags ?? "").test(output);
  return scored(spec, matched ? 1 : 0, `${matched ? "matches" : "does not match"} /${spec.pattern}/${spec.flags ?? ""}`);
};
