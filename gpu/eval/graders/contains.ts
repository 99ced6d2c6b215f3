import type { Grader } from "./types";
import { quote, scored } from "./util";

export const gradeContains: Grader<"contains"> = (spec, { output }) => {
  const fold = (s: string) => (spec.caseInsensitive ? s.toLowerCase() : s);
  const haystack = fold(output);
  const missing = spec.values.filter((v) => !haystack.includes(fold(v)));
  const found = spec.values.length - missing.length;
  if ((spec.mode ?? "all") === "any") {
    return scored(spec, found > 0 ? 1 : 0, found > 0
      ? `contains ${quote(spec.values.find((v) => !missing.includes(v))!)}`
      : `contains none of ${spec.values.map((v) => quote(v)).join(", ")}`);
  }
  return scored(spec, missing.length === 0 ? 1 : 0, missing.length === 0
    ? `contains all ${spec.values.length} values`
    : `missing ${missing.map((v) => quote(v)).join(", ")}`);
};
