// Validation schemas that more than one edge uses (the tRPC routers, the node API, plain routes), and
// the one way a zod failure is described to a person.
import "@/gpu/eval/zod-config";
import { z, type ZodError } from "zod";

export const idSchema = z.string().trim().min(1, "is required").max(64, "is too long");

/** A metric's name: a training loss, an eval score (`loss`, `eval/acc`, `lr`). */
export const metricNameSchema = z.string().trim().min(1).max(100).regex(/^[\w./:-]+$/, "may use letters, digits and . / : _ -");

export const metricPointSchema = z.object({ name: metricNameSchema, step: z.number().int().min(0), value: z.number().finite() });

/** One grader's verdict on one case (gpu/eval's GradeResult as it crosses the wire). */
export const gradeSchema = z.object({ grader: z.string().max(100), score: z.number().min(0).max(1), pass: z.boolean(), reason: z.string().max(4_000) });

/** One eval case's result as a browser worker or a node reports it. */
export const caseResultSchema = z.object({
  caseId: z.string().min(1).max(100),
  output: z.string().max(200_000),
  grades: z.array(gradeSchema).max(50),
  score: z.number().min(0).max(1),
  pass: z.boolean(),
});

/** Field-by-field messages for a zod failure, and one line that joins them. */
export function describeZod(error: ZodError): { message: string; fieldErrors: Record<string, string> } {
  const fieldErrors: Record<string, string> = {};
  for (const issue of error.issues) {
    const field = issue.path.join(".") || "(input)";
    fieldErrors[field] ??= issue.message;
  }
  const message = Object.entries(fieldErrors)
    .map(([field, msg]) => `${field}: ${msg}`)
    .join("; ");
  return { message: `Invalid input: ${message}`, fieldErrors };
}
