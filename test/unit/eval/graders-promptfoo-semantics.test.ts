// The grader options promptfoo imports rely on, one row per rule, each citing promptfoo's documentation
// (https://www.promptfoo.dev/docs/configuration/expected-outputs/) and checked by promptfoo itself in
// test/oracle/promptfoo-verdicts.test.ts where it can run.
import { describe, expect, it } from "vitest";
import type { EvalCase, GraderSpec } from "@/gpu/eval/case";
import { gradeCase } from "@/gpu/eval/grade";
import { runGrader } from "@/gpu/eval/graders";
import { makeCase } from "./helpers";

const grade = (spec: GraderSpec, output: string, c: Partial<EvalCase> = {}) => runGrader(spec, { output, case: makeCase({ graders: [spec], ...c }) });

describe("promptfoo's meanings, as Hearth grader options", () => {
  it.each([
    // docs: is-json "checks that the output is a valid JSON string" (no fence is stripped)
    [{ type: "is-json", fence: false }, '```json\n{"a":1}\n```', false],
    [{ type: "is-json" }, '```json\n{"a":1}\n```', true],
    // docs: "not-" prefix inverts any assertion
    [{ type: "contains", values: ["Sorry"], negate: true }, "sorry!", true],
    [{ type: "is-json", fence: false, negate: true }, "{}", false],
    // docs: equals with an object value compares the parsed output as JSON
    [{ type: "equals", value: '{"a":1,"b":[1,2]}', json: true }, '{"b": [1, 2], "a": 1}', true],
    [{ type: "equals", value: '{"a":1}', json: true }, '{"a": 2}', false],
    // docs: levenshtein "Levenshtein distance is below threshold" (default 5), untrimmed
    [{ type: "similarity", expected: "hello", maxDistance: 0, trim: false, binaryScore: true }, " hello", false],
    [{ type: "similarity", expected: "hello", maxDistance: 0 }, " hello", true],
  ] as [GraderSpec, string, boolean][])("%j on %j passes=%s", async (spec, output, pass) => {
    expect((await grade(spec, output)).pass).toBe(pass);
  });

  it("scores a negated grader 1 - score and a binary levenshtein 0 or 1", async () => {
    expect((await grade({ type: "similarity", expected: "abcd", maxDistance: 3, binaryScore: true }, "abxy")).score).toBe(1);
    expect((await grade({ type: "contains", values: ["x"], negate: true }, "y")).score).toBe(1);
  });

  it("grades an assert-set as a group: all pass, or the weighted mean reaches its threshold", async () => {
    const children: GraderSpec[] = [{ type: "contains", values: ["a"] }, { type: "contains", values: ["b"], weight: 3 }];
    const all = { type: "group", graders: children } as GraderSpec;
    const half = { type: "group", graders: children, threshold: 0.5 } as GraderSpec;
    expect((await grade(all, "b")).pass).toBe(false);
    expect((await grade(half, "b")).pass).toBe(true);
    expect((await grade(half, "b")).score).toBe(0.75);
    expect((await grade(half, "a")).pass).toBe(false);
  });

  it("passes a mean-score case on its weighted mean against the test threshold, else when every grader passes whatever its weight", async () => {
    const graders: GraderSpec[] = [{ type: "contains", values: ["a"], weight: 3 }, { type: "contains", values: ["b"], weight: 0 }];
    expect((await gradeCase(makeCase({ graders, scoring: "mean-score" }), "a")).pass).toBe(false); // weight 0 still must pass
    expect((await gradeCase(makeCase({ graders }), "a")).pass).toBe(true); // Hearth's own rule: weight 0 is informational
    expect((await gradeCase(makeCase({ graders: [{ type: "contains", values: ["a"] }, { type: "contains", values: ["b"] }], scoring: "mean-score", threshold: 0.5 }), "a")).pass).toBe(true);
  });
});
