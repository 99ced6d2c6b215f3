import { describe, expect, it } from "vitest";
import { validateSuiteCases } from "@/gpu/eval/validate";
import { makeCase } from "./helpers";

const ok = makeCase({ id: "ok-1", graders: [{ type: "contains", values: ["a"] }] });

describe("validateSuiteCases", () => {
  it("finds nothing wrong with a good suite", () => {
    expect(validateSuiteCases([ok, { ...ok, id: "ok-2" }])).toEqual([]);
  });

  it.each([
    ["a duplicate id", [ok, ok], { index: 1, caseId: "ok-1", field: "id" }, /duplicate id "ok-1" \(also case #1\)/],
    ["a bad id", [{ ...ok, id: "has space" }], { field: "id" }, /A-Z a-z 0-9/],
    ["a too long id", [{ ...ok, id: "x".repeat(101) }], { field: "id" }, /1-100/],
    ["no graders", [{ ...ok, graders: [] }], { field: "graders" }, /at least one grader/],
    ["all weights zero", [{ ...ok, graders: [{ type: "is-json", weight: 0 }] }], { field: "graders" }, /weight above 0/],
    ["multiple choice without choices", [{ ...ok, graders: [{ type: "multiple-choice" }] }], { field: "choices" }, /needs choices/],
    ["multiple choice without an answer", [{ ...ok, choices: ["a", "b"], graders: [{ type: "multiple-choice" }] }], { field: "answerIndex" }, /needs answerIndex/],
    ["an answer out of range", [{ ...ok, choices: ["a", "b"], answerIndex: 5 }], { field: "answerIndex" }, /out of range/],
    ["an unsafe regex", [{ ...ok, graders: [{ type: "regex", pattern: "(a+)+$" }] }], { field: "graders.0.pattern" }, /nested quantifier/],
    ["a stateful regex flag", [{ ...ok, graders: [{ type: "regex", pattern: "a", flags: "g" }] }], { field: "graders.0.flags" }, /flag "g"/],
    ["an invalid regex", [{ ...ok, graders: [{ type: "regex", pattern: "(" }] }], { field: "graders.0.pattern" }, /invalid regular expression/],
    ["a schema with $ref", [{ ...ok, graders: [{ type: "json-schema", schema: { $ref: "#" } }] }], { field: "graders.0.schema" }, /\$ref/],
    ["equals with nothing to compare", [{ ...ok, graders: [{ type: "equals" }] }], { field: "graders.0.value" }, /expected output/],
    ["numeric with a non-numeric expected", [{ ...ok, expected: "many", graders: [{ type: "numeric" }] }], { field: "graders.0.expected" }, /a number/],
    ["an unknown grader type", [{ ...ok, graders: [{ type: "vibes" }] }], { field: "graders.0.type" }, /./],
    ["a threshold above 1", [{ ...ok, threshold: 2 }], { field: "threshold" }, /./],
    ["a missing input", [{ id: "x", graders: [], tags: [], clauses: [] }], { field: "input" }, /./],
    ["something that is not a case", ["nope"], { field: "(case)", caseId: undefined }, /./],
  ])("reports %s with its case and field", (_name, cases, where, message) => {
    const problems = validateSuiteCases(cases);
    const match = problems.find((p) => p.field === where.field);
    expect(match, JSON.stringify(problems)).toBeDefined();
    expect(match).toMatchObject(where);
    expect(match!.message).toMatch(message);
  });
});
