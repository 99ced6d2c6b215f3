// The eval runner end to end: a tiny GPT over-fitted on one sentence answers a generation case
// and a multiple-choice case; a stub model checks prompts, cancellation and the summary.

import { describe, expect, it } from "vitest";
import type { EvalCase } from "../../gpu/eval/case";
import { gptEvalModel, promptOf, runEval, type EvalModel } from "../../gpu/eval/runner";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { trainBpe } from "../../gpu/tokenizer";
import { train } from "../../gpu/train";
import { gpuContext } from "./helpers";

const base = { tags: [], clauses: [] };

describe("eval runner", () => {
  it("grades a trained tiny GPT on generation and multiple-choice cases", async () => {
    const ctx = await gpuContext();
    const text = "the answer is 42.\n\n".repeat(20);
    const tok = trainBpe(text, 256);
    const model = GPT.create(ctx, gptPreset("tiny", { vocabSize: 256, blockSize: 24 }), { seed: 8 });
    await train(model, { train: tok.encode(text) }, { steps: 40, batchSize: 2, lr: 2e-2, weightDecay: 0, logEvery: 40 });
    const cases: EvalCase[] = [
      { ...base, id: "gen", input: "the answer is", graders: [{ type: "contains", values: ["42"] }] },
      { ...base, id: "mc", input: "the answer is", choices: [" 17", " 42", " 99"], answerIndex: 1, graders: [{ type: "multiple-choice" }] },
    ];
    const seen: string[] = [];
    const run = await runEval(cases, gptEvalModel(model, tok, { maxNewTokens: 6 }), { onCase: (r) => seen.push(r.caseId) });
    expect(seen).toEqual(["gen", "mc"]);
    expect(run.results[0].output).toContain("42");
    expect(run.results[1].logLikelihoods![1]).toBeGreaterThan(Math.max(run.results[1].logLikelihoods![0], run.results[1].logLikelihoods![2]));
    expect(run.passRate).toBe(1);
    model.release();
  });

  it("flattens chat inputs, stops when aborted and summarises what ran", async () => {
    expect(promptOf([{ role: "system", content: "be brief" }, { role: "user", content: "hi" }])).toBe("system: be brief\nuser: hi\nassistant:");
    const prompts: string[] = [];
    const stub: EvalModel = {
      generate: async (p) => (prompts.push(p), "yes"),
      logLikelihood: async () => 0,
    };
    const signal = { aborted: false };
    const cases: EvalCase[] = ["a", "b", "c"].map((id) => ({ ...base, id, input: id, graders: [{ type: "equals", value: id === "a" ? "yes" : "no" }] }));
    const run = await runEval(cases, stub, { signal, onCase: (_, i) => void (i === 1 && (signal.aborted = true)) });
    expect(prompts).toEqual(["a", "b"]);
    expect(run.cancelled).toBe(true);
    expect(run.results.map((r) => r.pass)).toEqual([true, false]);
    expect(run.passRate).toBe(0.5);
  });
});
