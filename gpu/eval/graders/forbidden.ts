import type { Grader } from "./types";
import { quote, scored } from "./util";

export const gradeForbidden: Grader<"forbidden"> = (spec, { output }) => {
  const haystack = output.toLowerCase();
  const found = spec.phrases.filter((p) => haystack.includes(p.toLowerCase()));
  return scored(spec, found.length === 0 ? 1 : 0, found.length === 0
    ? "no forbidden phrase"
    : `contains forbidden ${found.map((p) => quote(p)).join(", ")}`);
};
