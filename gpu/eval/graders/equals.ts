import type { Grader } from "./types";
import { canonicalJson } from "../hash";
import { failed, quote, scored } from "./util";

export const gradeEquals: Grader<"equals"> = (spec, { output, case: c }) => {
  const expected = spec.value ?? c.expected;
  if (expected === undefined) return failed(spec, "no value to compare with: set the grader's value or the case's expected");
  const normalize = (s: string) => {
    const t = spec.trim === false ? s : s.trim();
    return spec.caseInsensitive ? t.toLowerCase() : t;
  };
  if (spec.json) return scored(spec, jsonEqual(output, expected) ? 1 : 0, `${jsonEqual(output, expected) ? "equals" : "does not equal"} the JSON ${quote(expected)}`);
  const equal = normalize(output) === normalize(expected);
  return scored(spec, equal ? 1 : 0, equal ? `equals ${quote(expected)}` : `expected ${quote(expected)}, got ${quote(output)}`);
};

/** Both texts parse as JSON and hold the same value, object key order aside (promptfoo's object `equals`). */
function jsonEqual(output: string, expected: string): boolean {
  try {
    return canonicalJson(JSON.parse(output)) === canonicalJson(JSON.parse(expected));
  } catch {
    return false;
  }
}
