// Every grader faces a model output of several megabytes, or a hostile one, and answers with a
// result (never a throw, never an unbounded computation).
import { describe, expect, it } from "vitest";
import type { GraderSpec } from "@/gpu/eval/case";
import { gradeCase } from "@/gpu/eval/grade";
import { makeCase } from "./helpers";

const specs: GraderSpec[] = [
  { type: "equals", value: "x" },
  { type: "contains", values: ["needle"] },
  { type: "regex", pattern: ".*a.*b" },
  { type: "is-json" },
  { type: "json-schema", schema: { type: "array", items: { anyOf: [{ type: "string" }, { type: "number", minimum: 5 }] } } },
  { type: "numeric", expected: 1 },
  { type: "similarity", expected: "x" },
  { type: "forbidden", phrases: ["needle"] },
  { type: "rubric", rubric: "r" },
];

const outputs: [string, string][] = [
  ["5 MB of one letter", "a".repeat(5_000_000)],
  ["a 2 MB JSON array", JSON.stringify(Array.from({ length: 400_000 }, (_, k) => k))],
  ["JSON nested 100,000 deep", "[".repeat(100_000) + "]".repeat(100_000)],
  ["1 MB of digits", "9".repeat(1_000_000)],
];

describe("huge and hostile outputs", () => {
  it.each(outputs)("%s: every grader returns a bounded result", async (_name, output) => {
    const prompts: string[] = [];
    const judge = async (p: string) => (prompts.push(p), '{"score": 0, "reason": "too long"}');
    const r = await gradeCase(makeCase({ graders: specs }), output, { judge });
    expect(r.graders.map((g) => g.grader)).toEqual(specs.map((s) => s.type));
    for (const g of r.graders) {
      expect(g.score).toBeGreaterThanOrEqual(0);
      expect(g.score).toBeLessThanOrEqual(1);
      expect(g.reason.length).toBeLessThan(2_000);
      expect(g.reason).not.toMatch(/^grader error/);
    }
    expect(prompts[0].length).toBeLessThan(40_000);
    expect(r.pass).toBe(false);
  });

  it("says why a long output was not matched by a regex or compared by similarity", async () => {
    const r = await gradeCase(makeCase({ graders: specs }), "a".repeat(5_000_000));
    expect(r.graders.find((g) => g.grader === "regex")!.reason).toMatch(/match at most 100000/);
    expect(r.graders.find((g) => g.grader === "similarity")!.reason).toMatch(/longer than 10000/);
  });
});
