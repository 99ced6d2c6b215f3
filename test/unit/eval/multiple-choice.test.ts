import { describe, expect, it } from "vitest";
import type { GraderSpec } from "@/gpu/eval/case";
import { runGrader } from "@/gpu/eval/graders";
import { multipleChoiceMetrics } from "@/gpu/eval/graders/multiple-choice";
import { makeCase } from "./helpers";

describe("multiple choice by log-likelihood", () => {
  it.each([
    // choices, log-likelihoods, answer, acc, acc_norm, acc_bytes
    ["the likeliest is right", ["Paris", "Rome"], [-1, -3], 0, 1, 1, 1],
    ["length normalisation rescues a long answer", ["a", "a much longer answer"], [-2, -5], 1, 0, 1, 1],
    ["length normalisation can also hurt", ["a", "a much longer answer"], [-2, -5], 0, 1, 0, 0],
    // "ééé" is 3 characters but 6 UTF-8 bytes: per character it loses, per byte it wins.
    ["acc_norm counts characters as lm-eval does; acc_bytes counts bytes", ["ééé", "abcd"], [-3.5, -4], 1, 0, 1, 0],
    ["ties go to the first index, as numpy argmax", ["x", "y"], [-1, -1], 0, 1, 1, 1],
  ] as const)("%s", (_name, choices, lls, answer, acc, accNorm, accBytes) => {
    const m = multipleChoiceMetrics([...choices], [...lls], answer);
    expect([m.acc, m.acc_norm, m.acc_bytes]).toEqual([acc, accNorm, accBytes]);
  });

  const mcCase = (spec: GraderSpec) => makeCase({ choices: ["a", "a much longer answer"], answerIndex: 1, graders: [spec] });

  it.each([
    [{ type: "multiple-choice" }, 0, /acc=0 \(picked 0\), acc_norm=1 \(picked 1\)/],
    [{ type: "multiple-choice", metric: "acc_norm" }, 1, /score is acc_norm/],
  ] as const)("scores %j as %i and reports both metrics", async (spec, score, reason) => {
    const r = await runGrader(spec, { output: "", case: mcCase(spec), logLikelihoods: [-2, -5] });
    expect(r.score).toBe(score);
    expect(r.pass).toBe(score === 1);
    expect(r.reason).toMatch(reason);
  });

  it.each([
    ["no log-likelihoods", mcCase({ type: "multiple-choice" }), undefined, /no log-likelihoods/],
    ["the wrong number of them", mcCase({ type: "multiple-choice" }), [-1], /expected 2 log-likelihoods, got 1/],
    ["a case without choices", makeCase({ graders: [{ type: "multiple-choice" }] }), [-1, -2], /no choices/],
    ["an answer out of range", makeCase({ choices: ["a", "b"], answerIndex: 2 }), [-1, -2], /out of range/],
  ])("fails with %s", async (_name, c, lls, reason) => {
    const r = await runGrader({ type: "multiple-choice" }, { output: "", case: c, logLikelihoods: lls });
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(reason);
  });
});
