import { describe, expect, it } from "vitest";
import type { GraderSpec } from "@/gpu/eval/case";
import { gradeCase } from "@/gpu/eval/grade";
import { makeCase } from "./helpers";

const hasRefund: GraderSpec = { type: "contains", values: ["refund"] };
const says30: GraderSpec = { type: "contains", values: ["30 days"] };
const polite: GraderSpec = { type: "forbidden", phrases: ["idiot"] };

describe("gradeCase", () => {
  it.each([
    // graders, threshold, output, pass, score
    ["every grader passes", [hasRefund, says30], undefined, "refund in 30 days", true, 1],
    ["one of two fails under the default threshold 1", [hasRefund, says30], undefined, "refund soon", false, 0.5],
    ["one of two fails under threshold 0.5", [hasRefund, says30], 0.5, "refund soon", true, 0.5],
    ["a heavy grader dominates the score", [{ ...hasRefund, weight: 3 }, says30], 0.7, "refund soon", true, 0.75],
    ["a zero-weight grader is informational", [hasRefund, { ...says30, weight: 0 }], undefined, "refund soon", true, 1],
    ["all weights zero fails", [{ ...hasRefund, weight: 0 }], undefined, "refund", false, 0],
    ["no graders fails", [], undefined, "anything", false, 0],
    ["three graders, two pass, threshold 2/3", [hasRefund, says30, polite], 2 / 3, "refund, idiot", false, 1 / 3],
    ["three graders, two pass, threshold 2/3 (float sum)", [hasRefund, says30, polite], 2 / 3, "refund in 30 days, idiot", true, 2 / 3],
  ] as const)("%s", async (_name, graders, threshold, output, pass, score) => {
    const r = await gradeCase(makeCase({ graders: [...graders], threshold }), output);
    expect(r.pass).toBe(pass);
    expect(r.score).toBeCloseTo(score, 10);
    expect(r.graders).toHaveLength(graders.length);
    expect(r.caseId).toBe("case-1");
  });

  it("passes a graded score through its own threshold, not the case's", async () => {
    const sim: GraderSpec = { type: "similarity", expected: "the refund window is 30 days" };
    const r = await gradeCase(makeCase({ graders: [sim] }), "the refund window is 30 day");
    expect(r.score).toBeLessThan(1);
    expect(r.pass).toBe(true);
  });

  it("turns a grader that throws into a failing result and still runs the others", async () => {
    const judge = () => {
      throw new Error("boom");
    };
    const rubric: GraderSpec = { type: "rubric", rubric: "r" };
    // A malformed spec that slipped past validation (values is not an array) makes the grader throw.
    const broken = { type: "contains", values: null } as unknown as GraderSpec;
    const r = await gradeCase(makeCase({ graders: [broken, rubric, hasRefund] }), "refund", { judge: judge as never });
    expect(r.graders[0]).toMatchObject({ grader: "contains", score: 0, pass: false });
    expect(r.graders[0].reason).toMatch(/^grader error: /);
    expect(r.graders[1]).toMatchObject({ grader: "rubric", pass: false, reason: "judge call failed: boom" });
    expect(r.graders[2]).toMatchObject({ grader: "contains", pass: true });
    expect(r.pass).toBe(false);
  });

  it("reports an unknown grader type instead of crashing", async () => {
    const r = await gradeCase(makeCase({ graders: [{ type: "telepathy" } as unknown as GraderSpec] }), "x");
    expect(r.graders[0]).toMatchObject({ grader: "telepathy", pass: false, reason: 'unknown grader type "telepathy"' });
  });
});
