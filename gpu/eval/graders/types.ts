import type { EvalCase, GraderSpecOf, GraderType } from "../case";

export interface GradeResult {
  /** The grader's type, e.g. "contains". */
  grader: string;
  /** In [0, 1]. */
  score: number;
  pass: boolean;
  reason: string;
}

/** Asks a judge model; resolves to its raw reply. */
export type Judge = (prompt: string) => Promise<string>;

export interface GradeContext {
  /** For multiple-choice: the log-likelihood of each choice as a continuation, in choice order. */
  logLikelihoods?: number[];
  /** For rubric graders. */
  judge?: Judge;
  /** For rubric graders: the fence nonce; random when absent (tests pass one to be deterministic). */
  nonce?: string;
}

export interface GraderInput extends GradeContext {
  output: string;
  case: EvalCase;
}

export type Grader<T extends GraderType> = (spec: GraderSpecOf<T>, input: GraderInput) => GradeResult | Promise<GradeResult>;
