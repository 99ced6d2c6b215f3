// Deterministic text graders: equals, contains, forbidden, numeric, similarity, is-json.
import { describe, expect, it } from "vitest";
import type { GraderSpec } from "@/gpu/eval/case";
import { runGrader } from "@/gpu/eval/graders";
import { levenshtein } from "@/gpu/eval/graders/similarity";
import { extractNumber } from "@/gpu/eval/graders/numeric";
import { makeCase } from "./helpers";

type Row = [name: string, spec: GraderSpec, output: string, pass: boolean, reason?: RegExp, expected?: string];

async function grade(spec: GraderSpec, output: string, expected?: string) {
  return runGrader(spec, { output, case: makeCase({ graders: [spec], expected }) });
}

function table(rows: Row[]) {
  it.each(rows)("%s", async (_name, spec, output, pass, reason, expected) => {
    const r = await grade(spec, output, expected);
    expect(r.pass).toBe(pass);
    expect(r.grader).toBe(spec.type);
    expect(r.score).toBeGreaterThanOrEqual(0);
    expect(r.score).toBeLessThanOrEqual(1);
    if (reason) expect(r.reason).toMatch(reason);
  });
}

describe("equals", () => {
  table([
    ["matches after trimming by default", { type: "equals", value: "Paris" }, "  Paris\n", true],
    ["keeps whitespace when trim is false", { type: "equals", value: "Paris", trim: false }, " Paris", false],
    ["is case-sensitive by default", { type: "equals", value: "Paris" }, "paris", false, /expected "Paris", got "paris"/],
    ["folds case when asked", { type: "equals", value: "Paris", caseInsensitive: true }, "PARIS", true],
    ["falls back to the case's expected", { type: "equals" }, "42", true, undefined, "42"],
    ["fails clearly with nothing to compare", { type: "equals" }, "42", false, /no value to compare/],
  ]);
});

describe("contains", () => {
  table([
    ["all (default) needs every value", { type: "contains", values: ["refund", "30 days"] }, "A refund within 30 days", true],
    ["all names what is missing", { type: "contains", values: ["refund", "30 days"] }, "A refund soon", false, /missing "30 days"/],
    ["any needs one value", { type: "contains", values: ["yes", "sure"], mode: "any" }, "sure thing", true],
    ["any fails with none", { type: "contains", values: ["yes", "sure"], mode: "any" }, "no", false, /none of/],
    ["is case-sensitive by default", { type: "contains", values: ["Refund"] }, "refund", false],
    ["folds case when asked", { type: "contains", values: ["Refund"], caseInsensitive: true }, "REFUND", true],
  ]);
});

describe("forbidden", () => {
  table([
    ["passes without forbidden phrases", { type: "forbidden", phrases: ["guarantee"] }, "We will try.", true],
    ["fails and names the phrase, ignoring case", { type: "forbidden", phrases: ["as an AI", "guarantee"] }, "We GUARANTEE it", false, /forbidden "guarantee"/],
  ]);
});

describe("numeric", () => {
  table([
    ["reads the first number", { type: "numeric", expected: 42 }, "The answer is 42, not 7.", true],
    ["reads thousands separators", { type: "numeric", expected: 1234.5 }, "Total: 1,234.50 EUR", true],
    ["reads negative and exponent numbers", { type: "numeric", expected: -0.0015 }, "x = -1.5e-3", true],
    ["fails outside the tolerance", { type: "numeric", expected: 100, absTolerance: 1 }, "102", false, /got 102, expected 100/],
    ["accepts inside the absolute tolerance", { type: "numeric", expected: 100, absTolerance: 2 }, "102", true],
    ["accepts inside the relative tolerance", { type: "numeric", expected: 100, relTolerance: 0.05 }, "104.9", true],
    ["whole mode refuses text around the number", { type: "numeric", expected: 3, extract: "whole" }, "3 apples", false, /no number/],
    ["whole mode accepts a bare number", { type: "numeric", expected: 3, extract: "whole" }, " 3 ", true],
    ["uses the case's expected", { type: "numeric" }, "about 12", true, undefined, "12"],
    ["fails when no number appears", { type: "numeric", expected: 1 }, "none", false, /no number found/],
  ]);

  it.each([
    ["abc 12 def 13", 12],
    ["-.5", -0.5],
    ["no digits", undefined],
  ] as const)("extractNumber(%j) is %j", (text, n) => {
    expect(extractNumber(text)).toBe(n);
  });
});

describe("similarity", () => {
  it.each([
    ["kitten", "sitting", 3],
    ["", "abc", 3],
    ["flaw", "lawn", 2],
    ["same", "same", 0],
    ["😀a", "😀b", 1],
  ])("levenshtein(%j, %j) = %i", (a, b, d) => {
    expect(levenshtein(a, b)).toBe(d);
    expect(levenshtein(b, a)).toBe(d);
  });

  table([
    ["passes above the default threshold 0.8", { type: "similarity", expected: "the refund window is 30 days" }, "the refund window is 30 day", true],
    ["fails below it", { type: "similarity", expected: "kitten" }, "sitting", false, /similarity 0\.571/],
    ["uses an explicit threshold", { type: "similarity", expected: "kitten", threshold: 0.5 }, "sitting", true],
    ["uses maxDistance when given", { type: "similarity", expected: "kitten", maxDistance: 3 }, "sitting", true, /within 3/],
    ["folds case when asked", { type: "similarity", expected: "HELLO", caseInsensitive: true }, "hello", true],
    ["refuses huge outputs instead of running O(n·m)", { type: "similarity", expected: "x" }, "x".repeat(50_000), false, /longer than 10000/],
  ]);

  it("scores 1 - distance / longer length", async () => {
    const r = await grade({ type: "similarity", expected: "kitten" }, "sitting");
    expect(r.score).toBeCloseTo(1 - 3 / 7, 10);
  });
});

describe("is-json", () => {
  table([
    ["accepts an object", { type: "is-json" }, '{"a": 1}', true],
    ["accepts a fenced block", { type: "is-json" }, '```json\n{"a": 1}\n```', true],
    ["rejects prose", { type: "is-json" }, "Sure! {a: 1}", false, /not JSON/],
    ["rejects an empty output", { type: "is-json" }, "", false],
  ]);
});
