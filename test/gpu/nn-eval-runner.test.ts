// The eval runner end to end: a tiny GPT over-fitted on one sentence answers a generation case
// and a multiple-choice case; so does a tiny llama folder over-fitted on one conversation, through its
// chat template and up to its eos token; a stub model checks prompts, cancellation and the summary.

import { describe, expect, it } from "vitest";
import type { EvalCase } from "../../gpu/eval/case";
import { gptEvalModel, promptOf, runEval, textEvalModel, type EvalModel } from "../../gpu/eval/runner";
import { writeTar } from "../../gpu/io/tar";
import { loadTextModel } from "../../gpu/nn/text-model";
import { ANSWER, CONVERSATION, QUESTION, trainedChatFolder } from "../support/tiny-chat-folder";
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

  it("grades a llama folder's chat through its template and its multiple choice by log-likelihood", async () => {
    const ctx = await gpuContext();
    const folder = await trainedChatFolder(ctx);
    const cases: EvalCase[] = [
      { ...base, id: "chat", input: CONVERSATION, graders: [{ type: "equals", value: ANSWER, trim: false }] },
      { ...base, id: "raw", input: `<s>user: ${QUESTION}</s><s>assistant: `, graders: [{ type: "equals", value: ANSWER, trim: false }] },
      { ...base, id: "mc", input: CONVERSATION, choices: ["17.", "42.", "99."], answerIndex: 1, graders: [{ type: "multiple-choice" }] },
    ];
    const model = await loadTextModel(ctx, writeTar(folder));
    try {
      // maxNewTokens 16: "42." is exact only if generation ends at </s>
      const run = await runEval(cases, textEvalModel(model, { maxNewTokens: 16 }));
      expect(run.results.map((r) => [r.caseId, r.output, r.pass])).toEqual([
        ["chat", ANSWER, true],
        ["raw", ANSWER, true],
        ["mc", "", true],
      ]);
      const [w17, w42, w99] = run.results[2].logLikelihoods!;
      expect(w42).toBeGreaterThan(Math.max(w17, w99));
      expect(run.passRate).toBe(1);
      // stop strings cut the answer too
      const cut = await runEval(cases.slice(0, 1), textEvalModel(model, { maxNewTokens: 16, stop: ["2"] }));
      expect(cut.results[0].output).toBe("4");
    } finally {
      model.release();
    }
    // Without its template the conversation is rendered in the plain format, which this model never saw.
    const plain = new Map(folder);
    plain.delete("chat_template.jinja");
    const untemplated = await loadTextModel(ctx, writeTar(plain));
    try {
      const run = await runEval(cases.slice(0, 1), textEvalModel(untemplated, { maxNewTokens: 16 }));
      expect(run.results[0].pass).toBe(false);
    } finally {
      untemplated.release();
    }
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

  it("keeps `concurrency` cases in flight for a batching model, answering in case order whatever order they finish in", async () => {
    let inFlight = 0;
    let most = 0;
    const order: string[] = [];
    // "a" and "e" are held until every other case in flight has answered: no timers, the order is fixed
    const held = new Map<string, () => void>();
    const slowFirst: EvalModel = {
      generate: async (p) => {
        most = Math.max(most, ++inFlight);
        if (p === "a" || p === "e") await new Promise<void>((resolve) => held.set(p, resolve));
        else await null;
        inFlight--;
        order.push(p);
        if (inFlight === held.size) {
          for (const release of held.values()) release();
          held.clear();
        }
        return p.toUpperCase();
      },
      logLikelihood: async (_, choice) => (choice === "right" ? -1 : -5),
    };
    const cases: EvalCase[] = ["a", "b", "c", "d", "e", "f", "g"].map((id) => ({ ...base, id, input: id, graders: [{ type: "equals", value: id.toUpperCase() }] }));
    cases.push({ ...base, id: "mc", input: "q", choices: ["wrong", "right", "other"], answerIndex: 1, graders: [{ type: "multiple-choice" }] });
    const seen: number[] = [];
    const run = await runEval(cases, slowFirst, { concurrency: 4, onCase: (_, i) => void seen.push(i) });
    expect(most).toBe(4);
    expect(order).toEqual(["b", "c", "d", "a", "f", "g", "e"]); // they finished out of order...
    expect(run.results.map((r) => r.caseId)).toEqual(cases.map((c) => c.id)); // ...and are answered in order
    expect(seen).toEqual(cases.map((_, i) => i));
    expect(run.results.every((r) => r.pass)).toBe(true);
    expect(run.results.at(-1)!.logLikelihoods).toEqual([-5, -1, -5]);
  });
});
