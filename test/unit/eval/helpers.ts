import type { EvalCase, GraderSpec } from "@/gpu/eval/case";

export function makeCase(overrides: Partial<EvalCase> = {}): EvalCase {
  return { id: "case-1", input: "question", graders: [], tags: [], clauses: [], ...overrides };
}

export function only(spec: GraderSpec, overrides: Partial<EvalCase> = {}): EvalCase {
  return makeCase({ graders: [spec], ...overrides });
}
