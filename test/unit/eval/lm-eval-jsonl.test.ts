import { describe, expect, it } from "vitest";
import { parseLmEvalJsonl } from "@/gpu/eval/formats/lm-eval-jsonl";
import { gradeCase } from "@/gpu/eval/grade";
import { validateSuiteCases } from "@/gpu/eval/validate";

describe("lm-eval multiple-choice JSONL import", () => {
  it.each([
    [{ query: "Q?", choices: ["a", "b", "c"], gold: 2 }, 2],
    [{ question: "Q?", choices: ["a", "b"], label: 1 }, 1],
    [{ question: "Q?", choices: ["a", "b", "c", "d"], answer: "C" }, 2],
    [{ question: "Q?", choices: ["a", "b"], answer: "b" }, 1],
    [{ question: "Q?", choices: ["a", "b", "c"], answer: "1" }, 1],
    [{ ctx: "Q?", choices: ["a", "b"], gold: 0 }, 0],
    [{ question: "Q?", choices: { text: ["a", "b", "c"], label: ["1", "2", "3"] }, answerKey: "3" }, 2],
    [{ question: "Q?", choices: { text: ["a", "b"], label: ["A", "B"] }, answerKey: "B" }, 1],
  ])("maps %j to answer %i", (doc, answerIndex) => {
    const { cases, errors } = parseLmEvalJsonl(JSON.stringify(doc));
    expect(errors).toEqual([]);
    expect(cases[0]).toMatchObject({ id: "mc-1", input: "Q?", answerIndex, graders: [{ type: "multiple-choice" }] });
    expect(validateSuiteCases(cases)).toEqual([]);
  });

  it("keeps a valid own id, the other fields, and makes ids unique", () => {
    const text = [
      JSON.stringify({ id: "arc-7", query: "Q", choices: ["a", "b"], gold: 0, source: "arc" }),
      JSON.stringify({ id: "arc-7", query: "Q", choices: ["a", "b"], gold: 0 }),
      JSON.stringify({ id: "not valid!", query: "Q", choices: ["a", "b"], gold: 0 }),
    ].join("\n");
    const { cases } = parseLmEvalJsonl(text, { idPrefix: "arc", tags: ["arc-easy"] });
    expect(cases.map((c) => c.id)).toEqual(["arc-7", "arc-7-2", "arc-3"]);
    expect(cases[0]).toMatchObject({ tags: ["arc-easy"], metadata: { source: "lm-eval", doc: { id: "arc-7", source: "arc" } } });
  });

  it("reports every line it cannot map, by number", () => {
    const text = [
      JSON.stringify({ choices: ["a", "b"], gold: 0 }),
      JSON.stringify({ query: "Q", choices: ["a"], gold: 0 }),
      JSON.stringify({ query: "Q", choices: ["a", "b"] }),
      JSON.stringify({ query: "Q", choices: ["a", "b"], gold: 5 }),
      JSON.stringify({ query: "Q", choices: ["a", "b"], answer: "Z" }),
      "oops",
      JSON.stringify({ query: "ok", choices: ["a", "b"], gold: 1 }),
    ].join("\n");
    const { cases, errors } = parseLmEvalJsonl(text);
    expect(cases).toHaveLength(1);
    expect(errors.map((e) => [e.line, e.message.split(":")[0]])).toEqual([
      [1, "no question"],
      [2, '"choices" must be a list of at least 2 strings, or {"text"'],
      [3, "no answer"],
      [4, "gold 5 does not name one of the 2 choices"],
      [5, 'answer "Z" does not name one of the 2 choices'],
      [6, "not valid JSON"],
    ]);
  });

  it("imports cases that grade with acc and acc_norm", async () => {
    const { cases } = parseLmEvalJsonl(JSON.stringify({ query: "Q", choices: ["a", "a much longer answer"], gold: 1 }));
    const r = await gradeCase(cases[0], "", { logLikelihoods: [-2, -5] });
    expect(r.pass).toBe(false);
    expect(r.graders[0].reason).toMatch(/acc=0 .* acc_norm=1/);
  });
});
