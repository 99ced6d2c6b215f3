import type { GraderSpec, GraderType } from "../case";
import { gradeContains } from "./contains";
import { gradeEquals } from "./equals";
import { gradeForbidden } from "./forbidden";
import { makeGroupGrader } from "./group";
import { gradeIsJson } from "./is-json";
import { gradeJsonSchema } from "./json-schema";
import { gradeMultipleChoice } from "./multiple-choice";
import { gradeNumeric } from "./numeric";
import { gradeRegex } from "./regex";
import { gradeRubric } from "./rubric";
import { gradeSimilarity } from "./similarity";
import type { Grader, GradeResult, GraderInput } from "./types";

export const GRADERS: { [T in GraderType]: Grader<T> } = {
  equals: gradeEquals,
  contains: gradeContains,
  regex: gradeRegex,
  "is-json": gradeIsJson,
  "json-schema": gradeJsonSchema,
  numeric: gradeNumeric,
  similarity: gradeSimilarity,
  "multiple-choice": gradeMultipleChoice,
  forbidden: gradeForbidden,
  rubric: gradeRubric,
  group: makeGroupGrader((spec, input) => runGrader(spec, input)),
};

/** Runs one grader; a grader that throws yields a failing result carrying the error message. */
export async function runGrader(spec: GraderSpec, input: GraderInput): Promise<GradeResult> {
  try {
    const grader = GRADERS[spec.type] as Grader<GraderType> | undefined;
    if (!grader) return { grader: String(spec.type), score: 0, pass: false, reason: `unknown grader type "${String(spec.type)}"` };
    const result = await grader(spec, input);
    // promptfoo's rule for `not-` assertions: pass flips and the score becomes 1 - score.
    return spec.negate ? { ...result, pass: !result.pass, score: 1 - result.score, reason: `negated: ${result.reason}` } : result;
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    return { grader: String(spec.type), score: 0, pass: false, reason: `grader error: ${message}` };
  }
}

export { gradeContains, gradeEquals, gradeForbidden, gradeIsJson, gradeJsonSchema, gradeMultipleChoice, gradeNumeric, gradeRegex, gradeRubric, gradeSimilarity };
export * from "./types";
export { levenshtein, MAX_SIMILARITY_LENGTH } from "./similarity";
export { extractNumber } from "./numeric";
export { multipleChoiceMetrics } from "./multiple-choice";
export { buildJudgePrompt, parseJudgeReply, neutralizeFence, randomNonce, MAX_JUDGED_CHARS } from "./rubric";
