// What the grader builder shows for each grader type: a sentence on what it checks, and its fields
// with their documentation (from the specs in gpu/eval/case.ts, which validate what the form writes).
import type { GraderType } from "@/gpu/eval/case";

export type FieldKind = "text" | "textarea" | "list" | "bool" | "number" | "enum" | "json";

export interface GraderField {
  key: string;
  label: string;
  kind: FieldKind;
  help: string;
  options?: readonly string[];
  required?: boolean;
}

export interface GraderForm {
  type: GraderType;
  label: string;
  doc: string;
  fields: GraderField[];
  /** What a new grader of this type starts with (valid as it stands where possible). */
  initial: Record<string, unknown>;
}

const COMMON: GraderField[] = [
  { key: "negate", label: "Pass when it fails", kind: "bool", help: "Turns the check around: pass becomes fail and the score becomes 1 - score (promptfoo's not- prefix)." },
  { key: "metricName", label: "Report as", kind: "text", help: "A metric name this grader's score is reported under (promptfoo's metric)." },
  { key: "weight", label: "Weight", kind: "number", help: "Its share of the case score, relative to the other graders (default 1; 0 makes it informational)." },
  { key: "threshold", label: "Pass at", kind: "number", help: "The score (0 to 1) this grader must reach to pass (default: a full score)." },
];

export const GRADER_FORMS: GraderForm[] = [
  {
    type: "contains",
    label: "Contains",
    doc: "Passes when the answer contains the phrases: all of them (default) or any one.",
    fields: [
      { key: "values", label: "Phrases", kind: "list", help: "One phrase per line.", required: true },
      { key: "mode", label: "Needs", kind: "enum", options: ["all", "any"], help: "all: every phrase must appear; any: one is enough." },
      { key: "caseInsensitive", label: "Ignore case", kind: "bool", help: "Compare without regard to upper and lower case." },
    ],
    initial: { type: "contains", values: ["phrase"] },
  },
  {
    type: "equals",
    label: "Equals",
    doc: "Passes when the answer is exactly the value (the case's expected answer when left empty).",
    fields: [
      { key: "value", label: "Value", kind: "textarea", help: "Leave empty to compare with the case's expected answer." },
      { key: "trim", label: "Trim spaces", kind: "bool", help: "Ignore spaces and newlines at both ends (default on)." },
      { key: "caseInsensitive", label: "Ignore case", kind: "bool", help: "Compare without regard to upper and lower case." },
      { key: "json", label: "Compare as JSON", kind: "bool", help: "The answer and the value must parse as JSON and hold the same data, key order aside (promptfoo's equals with an object)." },
    ],
    initial: { type: "equals" },
  },
  {
    type: "forbidden",
    label: "Never says",
    doc: "Fails when the answer contains any of the phrases (a card number, a promise the policy forbids).",
    fields: [{ key: "phrases", label: "Phrases", kind: "list", help: "One phrase per line.", required: true }],
    initial: { type: "forbidden", phrases: ["phrase"] },
  },
  {
    type: "regex",
    label: "Matches a pattern",
    doc: "Passes when a regular expression matches the answer (or, negated, when it does not). Patterns that could run for ever are refused.",
    fields: [
      { key: "pattern", label: "Pattern", kind: "text", help: "A JavaScript regular expression, without slashes.", required: true },
      { key: "flags", label: "Flags", kind: "text", help: "Any of i (ignore case), m, s, u." },
    ],
    initial: { type: "regex", pattern: "" },
  },
  {
    type: "numeric",
    label: "Number",
    doc: "Passes when the number in the answer is the expected one, within a tolerance.",
    fields: [
      { key: "expected", label: "Expected number", kind: "number", help: "Leave empty to take the number in the case's expected answer." },
      { key: "absTolerance", label: "Absolute tolerance", kind: "number", help: "How far off the number may be." },
      { key: "relTolerance", label: "Relative tolerance", kind: "number", help: "How far off, as a fraction of the expected number." },
      { key: "extract", label: "Read", kind: "enum", options: ["first", "whole"], help: "first: the first number in the answer; whole: the whole answer must be a number." },
    ],
    initial: { type: "numeric" },
  },
  {
    type: "similarity",
    label: "Close to",
    doc: "Scores how close the answer is to the expected text by edit distance; passes at the pass-at score, or within a maximum distance.",
    fields: [
      { key: "expected", label: "Expected text", kind: "textarea", help: "Leave empty to use the case's expected answer." },
      { key: "caseInsensitive", label: "Ignore case", kind: "bool", help: "Compare without regard to upper and lower case." },
      { key: "maxDistance", label: "Maximum distance", kind: "number", help: "Pass when at most this many characters differ." },
      { key: "trim", label: "Trim spaces", kind: "bool", help: "Ignore spaces and newlines at both ends (default on; promptfoo's levenshtein does not)." },
      { key: "binaryScore", label: "Score 0 or 1", kind: "bool", help: "With a maximum distance: score 1 within it and 0 beyond (promptfoo's levenshtein)." },
    ],
    initial: { type: "similarity" },
  },
  {
    type: "is-json",
    label: "Is JSON",
    doc: "Passes when the answer is valid JSON.",
    fields: [{ key: "fence", label: "Accept a ``` fence", kind: "bool", help: "Accept JSON inside one surrounding ``` code fence (default on; promptfoo's is-json does not)." }],
    initial: { type: "is-json" },
  },
  {
    type: "json-schema",
    label: "JSON with a shape",
    doc: "Passes when the answer is JSON that a JSON Schema accepts.",
    fields: [
      { key: "schema", label: "Schema (JSON)", kind: "json", help: 'A JSON Schema, e.g. {"type": "object", "required": ["order"]}.', required: true },
      { key: "fence", label: "Accept a ``` fence", kind: "bool", help: "Accept JSON inside one surrounding ``` code fence (default on; promptfoo's is-json does not)." },
    ],
    initial: { type: "json-schema", schema: { type: "object" } },
  },
  {
    type: "multiple-choice",
    label: "Multiple choice",
    doc: "Scores the case's choices by the model's likelihood; passes when the right one (the answer index) is the most likely. Needs choices and an answer index on the case; graded during a run, not from a written answer.",
    fields: [{ key: "metric", label: "Accuracy", kind: "enum", options: ["acc", "acc_norm"], help: "acc: raw likelihood; acc_norm: normalised by length." }],
    initial: { type: "multiple-choice" },
  },
  {
    type: "rubric",
    label: "Judged by a model",
    doc: "A judge model scores the answer against the rubric; needs a judge (an endpoint) when the run is made. Calibrate judges against people before trusting them.",
    fields: [
      { key: "rubric", label: "Rubric", kind: "textarea", help: "What a good answer does, in words the judge can apply.", required: true },
      { key: "scale", label: "Scale", kind: "enum", options: ["0-1", "1-5"], help: "The judge's score scale, normalised to 0-1." },
    ],
    initial: { type: "rubric", rubric: "" },
  },
  {
    type: "group",
    label: "All of a group",
    doc: "Several graders judged as one (promptfoo's assert-set): passes when every one passes, or, with a pass-at score, when their weighted mean score reaches it.",
    fields: [{ key: "graders", label: "Graders (JSON)", kind: "json", help: 'A list of graders, e.g. [{"type": "contains", "values": ["refund"]}].', required: true }],
    initial: { type: "group", graders: [{ type: "contains", values: ["phrase"] }] },
  },
].map((form) => ({ ...form, fields: [...form.fields, ...COMMON] })) as GraderForm[];

export const graderForm = (type: unknown) => GRADER_FORMS.find((f) => f.type === type);
