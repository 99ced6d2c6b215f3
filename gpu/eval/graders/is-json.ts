import type { Grader } from "./types";
import { parseJsonOutput, scored } from "./util";

export const gradeIsJson: Grader<"is-json"> = (spec, { output }) => {
  const parsed = parseJsonOutput(output, spec.fence !== false);
  return scored(spec, parsed.ok ? 1 : 0, parsed.ok ? "output is valid JSON" : `output is not JSON: ${parsed.error}`);
};
