import type { Grader } from "./types";
import { failed, quote, scored } from "./util";

export const gradeEquals: Grader<"equals"> = (spec, { output, case: c }) => {
  const expected = spec.value ?? c.expected;
  if (expected === undefined) return failed(spec, "no value to compare with: set the grader's value or the case's expected");
  const normalize = (s: string) => {
    const t = spec.trim === false ? s : s.trim();
    return spec.caseInsensitive ? t.toLowerCase() : t;
  };
  const equal = normalize(output) === normalize(expected);
  return scored(spec, equal ? 1 : 0, equal ? `equals ${quote(expected)}` : `expected ${quote(expected)}, got ${quote(output)}`);
};
