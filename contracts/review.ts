// Review queues: the score schema a queue labels by, a label's shape and its check against the schema,
// and the keyboard shortcuts the review page derives from the schema. Shared by the server (which
// validates every label) and the review page (which shows the same keys the tests press).
import "@/gpu/eval/zod-config";
import { z } from "zod";

const labelName = z.string().trim().min(1, "is required").max(60, "must be at most 60 characters");

export const ScoreSchema = z
  .object({
    /** A pass/fail verdict. */
    pass: z.boolean().default(true),
    /** A number in [min, max] (integers when step is 1). */
    numeric: z.object({ min: z.number().finite(), max: z.number().finite(), step: z.number().positive().max(1_000).default(1) }).nullable().default(null),
    /** One of a few named labels ("helpful", "refusal", ...). */
    categories: z.array(labelName).max(9, "at most 9 labels (one key each)").default([]),
    /** A corrected output (what the model should have said): the supervised fine-tuning target. */
    correction: z.boolean().default(false),
    comment: z.boolean().default(true),
  })
  .refine((s) => !s.numeric || s.numeric.max > s.numeric.min, { message: "the numeric range's max must be above its min", path: ["numeric"] })
  .refine((s) => !s.numeric || (s.numeric.max - s.numeric.min) / s.numeric.step <= 10, { message: "a numeric range has at most 11 steps (one key each)", path: ["numeric"] })
  .refine((s) => new Set(s.categories).size === s.categories.length, { message: "labels must differ", path: ["categories"] })
  .refine((s) => s.pass || s.numeric || s.categories.length > 0, { message: "a queue scores by pass/fail, a number or labels (at least one)", path: ["pass"] });
export type ScoreSchema = z.infer<typeof ScoreSchema>;

export const MAX_CORRECTION_CHARS = 100_000;
export const MAX_COMMENT_CHARS = 4_000;

export const LabelInput = z.object({
  pass: z.boolean().nullable().default(null),
  score: z.number().finite().nullable().default(null),
  category: z.string().max(60).nullable().default(null),
  correctedOutput: z.string().max(MAX_CORRECTION_CHARS).nullable().default(null),
  comment: z.string().max(MAX_COMMENT_CHARS).nullable().default(null),
});
export type LabelInput = z.infer<typeof LabelInput>;

/** What is wrong with a label under a schema (empty when it is complete and within the schema). */
export function labelProblems(schema: ScoreSchema, label: LabelInput): string[] {
  const problems: string[] = [];
  if (schema.pass && label.pass === null) problems.push("pass or fail is required");
  if (!schema.pass && label.pass !== null) problems.push("this queue does not score pass/fail");
  if (schema.numeric) {
    const { min, max, step } = schema.numeric;
    if (label.score === null) problems.push(`a score from ${min} to ${max} is required`);
    else if (label.score < min || label.score > max) problems.push(`the score must be from ${min} to ${max}`);
    else if (Math.abs((label.score - min) / step - Math.round((label.score - min) / step)) > 1e-9) problems.push(`the score moves in steps of ${step} from ${min}`);
  } else if (label.score !== null) problems.push("this queue does not score numbers");
  if (schema.categories.length) {
    if (label.category === null) problems.push(`one of ${schema.categories.join(", ")} is required`);
    else if (!schema.categories.includes(label.category)) problems.push(`"${label.category}" is not one of ${schema.categories.join(", ")}`);
  } else if (label.category !== null) problems.push("this queue has no labels to pick");
  if (!schema.correction && label.correctedOutput) problems.push("this queue takes no corrected output");
  if (!schema.comment && label.comment) problems.push("this queue takes no comment");
  return problems;
}

/** The values a numeric schema allows, low to high. */
export function numericSteps(numeric: NonNullable<ScoreSchema["numeric"]>): number[] {
  const count = Math.round((numeric.max - numeric.min) / numeric.step);
  return Array.from({ length: count + 1 }, (_, i) => Number((numeric.min + i * numeric.step).toFixed(6)));
}

export type ShortcutAction =
  | { kind: "pass"; value: boolean }
  | { kind: "score"; value: number }
  | { kind: "category"; value: string }
  | { kind: "next" }
  | { kind: "previous" }
  | { kind: "submit" };

export interface Shortcut {
  key: string;
  label: string;
  action: ShortcutAction;
}

/**
 * One key per score and per move: p / f for pass and fail, digits for labels (1..9), the letters of
 * the home row for numeric steps (a s d g h j k l ; ' z, skipping f), Enter to save and go on, and
 * the arrow keys (or n / b) for next and previous.
 */
export function shortcutsFor(schema: ScoreSchema): Shortcut[] {
  const keys: Shortcut[] = [];
  if (schema.pass) {
    keys.push({ key: "p", label: "Pass", action: { kind: "pass", value: true } });
    keys.push({ key: "f", label: "Fail", action: { kind: "pass", value: false } });
  }
  schema.categories.forEach((category, i) => keys.push({ key: String(i + 1), label: category, action: { kind: "category", value: category } }));
  if (schema.numeric) {
    const letters = ["a", "s", "d", "g", "h", "j", "k", "l", ";", "'", "z"];
    numericSteps(schema.numeric).forEach((value, i) => keys.push({ key: letters[i], label: String(value), action: { kind: "score", value } }));
  }
  keys.push({ key: "Enter", label: "Save and next", action: { kind: "submit" } });
  keys.push({ key: "ArrowRight", label: "Next (skip)", action: { kind: "next" } });
  keys.push({ key: "ArrowLeft", label: "Previous", action: { kind: "previous" } });
  return keys;
}

/** The label dimensions agreement is measured on: pass/fail, the category, the numeric score. */
export const AGREEMENT_DIMENSIONS = ["pass", "category", "score"] as const;
export type AgreementDimension = (typeof AGREEMENT_DIMENSIONS)[number];
