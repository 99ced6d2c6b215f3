import { validateJsonSchema } from "../json-schema";
import type { Grader } from "./types";
import { parseJsonOutput, scored } from "./util";

export const gradeJsonSchema: Grader<"json-schema"> = (spec, { output }) => {
  const parsed = parseJsonOutput(output, spec.fence !== false);
  if (!parsed.ok) return scored(spec, 0, `output is not JSON: ${parsed.error}`);
  const { valid, errors } = validateJsonSchema(spec.schema, parsed.value);
  const shown = errors.slice(0, 5).join("; ") + (errors.length > 5 ? `; and ${errors.length - 5} more` : "");
  return scored(spec, valid ? 1 : 0, valid ? "output matches the schema" : shown);
};
