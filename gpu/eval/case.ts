// The eval case model: zod schemas validate cases at the edge (uploads, publish, API);
// everything past the edge trusts these types.
import "./zod-config";
import { z } from "zod";

export const CASE_ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

export const ChatMessageSchema = z.strictObject({
  role: z.enum(["system", "user", "assistant"]),
  content: z.string(),
});
export type ChatMessage = z.infer<typeof ChatMessageSchema>;

// No zod defaults anywhere in this file: a parsed case is exactly what its author wrote, so
// export -> import -> export is byte-exact. Defaults are applied when grading (see DEFAULTS below).
const common = {
  /** Relative weight in the case score; 0 makes a grader informational. Default 1. */
  weight: z.number().finite().min(0).optional(),
  /** The score this grader must reach to pass. Default: see DEFAULT_GRADER_THRESHOLD. */
  threshold: z.number().min(0).max(1).optional(),
  /** Inverts the grader: pass becomes fail and the score becomes 1 - score (promptfoo's `not-` prefix). */
  negate: z.boolean().optional(),
  /** A name this grader's score is reported under (promptfoo's `metric`). */
  metricName: z.string().min(1).max(100).optional(),
};

export const EqualsSpec = z.strictObject({
  type: z.literal("equals"),
  /** Defaults to the case's `expected`. */
  value: z.string().optional(),
  /** Trim both sides before comparing. Default true. */
  trim: z.boolean().optional(),
  caseInsensitive: z.boolean().optional(),
  /** Compare as JSON: the output parsed as JSON must deep-equal `value` parsed as JSON (key order ignored). */
  json: z.boolean().optional(),
  ...common,
});
export const ContainsSpec = z.strictObject({
  type: z.literal("contains"),
  values: z.array(z.string().min(1)).min(1),
  /** "all" (default): every value must appear; "any": at least one. */
  mode: z.enum(["any", "all"]).optional(),
  caseInsensitive: z.boolean().optional(),
  ...common,
});
export const RegexSpec = z.strictObject({
  type: z.literal("regex"),
  pattern: z.string(),
  /** Only i, m, s, u. g and y are refused because they make matching stateful. */
  flags: z.string().optional(),
  ...common,
});
/** Accept JSON inside one surrounding ``` fence. Default true; promptfoo's is-json does not (false). */
const fence = z.boolean().optional();
export const IsJsonSpec = z.strictObject({ type: z.literal("is-json"), fence, ...common });
export const JsonSchemaSpec = z.strictObject({ type: z.literal("json-schema"), schema: z.unknown(), fence, ...common });
export const NumericSpec = z.strictObject({
  type: z.literal("numeric"),
  /** Defaults to the number in the case's `expected`. */
  expected: z.number().finite().optional(),
  absTolerance: z.number().finite().min(0).optional(),
  relTolerance: z.number().finite().min(0).optional(),
  /** "first" (default): the first number in the output; "whole": the whole trimmed output. */
  extract: z.enum(["first", "whole"]).optional(),
  ...common,
});
export const SimilaritySpec = z.strictObject({
  type: z.literal("similarity"),
  /** Defaults to the case's `expected`. */
  expected: z.string().optional(),
  caseInsensitive: z.boolean().optional(),
  /** Trim both texts before comparing. Default true. */
  trim: z.boolean().optional(),
  /** Pass when the edit distance is at most this, instead of comparing the score to `threshold`. */
  maxDistance: z.number().int().min(0).optional(),
  /** With maxDistance: score 1 when within it and 0 when not, as promptfoo's levenshtein scores. */
  binaryScore: z.boolean().optional(),
  ...common,
});
export const MultipleChoiceSpec = z.strictObject({
  type: z.literal("multiple-choice"),
  /** Which accuracy becomes the score: "acc" (default) or length-normalised "acc_norm". */
  metric: z.enum(["acc", "acc_norm"]).optional(),
  ...common,
});
export const ForbiddenSpec = z.strictObject({
  type: z.literal("forbidden"),
  phrases: z.array(z.string().min(1)).min(1),
  ...common,
});
export const RubricSpec = z.strictObject({
  type: z.literal("rubric"),
  rubric: z.string().min(1),
  /** The judge's score scale: "0-1" (default) or "1-5"; normalised to [0,1]. */
  scale: z.enum(["0-1", "1-5"]).optional(),
  ...common,
});

const LEAF_GRADERS = [
  EqualsSpec,
  ContainsSpec,
  RegexSpec,
  IsJsonSpec,
  JsonSchemaSpec,
  NumericSpec,
  SimilaritySpec,
  MultipleChoiceSpec,
  ForbiddenSpec,
  RubricSpec,
] as const;
export const LeafGraderSpecSchema = z.discriminatedUnion("type", [...LEAF_GRADERS]);
/**
 * Several graders judged as one (promptfoo's `assert-set`): the score is the weighted mean of the
 * children's scores; it passes when every child passes, or, with a threshold, when the score reaches it.
 */
export const GroupSpec = z.strictObject({
  type: z.literal("group"),
  graders: z.array(LeafGraderSpecSchema).min(1),
  ...common,
});
export const GraderSpecSchema = z.discriminatedUnion("type", [...LEAF_GRADERS, GroupSpec]);
export type GraderSpec = z.infer<typeof GraderSpecSchema>;
export type GraderType = GraderSpec["type"];
export type GraderSpecOf<T extends GraderType> = Extract<GraderSpec, { type: T }>;

export const EvalCaseSchema = z.strictObject({
  id: z.string().regex(CASE_ID_PATTERN, "must be 1-100 characters of A-Z a-z 0-9 . _ : -"),
  input: z.union([z.string(), z.array(ChatMessageSchema).min(1)]),
  expected: z.string().optional(),
  choices: z.array(z.string()).min(2).optional(),
  answerIndex: z.number().int().min(0).optional(),
  graders: z.array(GraderSpecSchema),
  tags: z.array(z.string()),
  /** Policy clause references: "refunds#4.2" or a clause id. */
  clauses: z.array(z.string()),
  /**
   * The weighted share of graders that must pass for the case to pass. Default 1: every grader
   * with a non-zero weight must pass.
   */
  threshold: z.number().min(0).max(1).optional(),
  /**
   * How graders decide the case. "passed-share" (default): the weighted share of passing graders must
   * reach `threshold`. "mean-score" (promptfoo's rule): without a threshold every grader must pass,
   * whatever its weight; with one, the weighted mean score must reach it.
   */
  scoring: z.enum(["passed-share", "mean-score"]).optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
});
export type EvalCase = z.infer<typeof EvalCaseSchema>;

export const DEFAULT_CASE_THRESHOLD = 1;
export const DEFAULT_GRADER_WEIGHT = 1;
/** Deterministic graders score 0 or 1 and must score 1; graded ones have a softer default. */
export const DEFAULT_GRADER_THRESHOLD: Record<GraderType, number> = {
  equals: 1,
  contains: 1,
  regex: 1,
  "is-json": 1,
  "json-schema": 1,
  numeric: 1,
  similarity: 0.8,
  "multiple-choice": 1,
  forbidden: 1,
  rubric: 0.5,
  group: 1,
};
