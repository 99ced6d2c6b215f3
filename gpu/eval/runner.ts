// Runs an eval suite against a model: generates an output per case (greedy by default), scores
// multiple-choice cases by the log-likelihood of each choice, and grades with gradeCase.

import type { ChatMessage, EvalCase } from "./case";
import { gradeCase, type CaseResult } from "./grade";
import type { Judge } from "./graders/types";
import type { GPT } from "../nn/gpt";
import { generateText, logLikelihood } from "../nn/generate";

/** What the runner needs from a model; gptEvalModel adapts a GPT, tests and servers may stub it. */
export interface EvalModel {
  generate(prompt: string): Promise<string>;
  /** log p(continuation | context). */
  logLikelihood(context: string, continuation: string): Promise<number>;
}

export interface GptEvalOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /** Generation ends at the first of these strings (default: a blank line). */
  stop?: string[];
}

export function gptEvalModel(model: GPT, tokenizer: { encode(s: string): number[]; decode(ids: number[]): string }, o: GptEvalOptions = {}): EvalModel {
  return {
    async generate(prompt) {
      const r = await generateText(model, tokenizer, prompt, {
        maxNewTokens: o.maxNewTokens ?? 64,
        temperature: o.temperature ?? 0,
        topK: o.topK,
        seed: o.seed ?? 0,
        stop: o.stop ?? ["\n\n"],
      });
      return r.text;
    },
    async logLikelihood(context, continuation) {
      const ctxIds = tokenizer.encode(context);
      return (await logLikelihood(model, ctxIds.length ? ctxIds : [0], tokenizer.encode(continuation))).logprob;
    },
  };
}

/** A chat input flattened to plain text ending where the assistant's reply starts. */
export function promptOf(input: string | ChatMessage[]): string {
  if (typeof input === "string") return input;
  return input.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:";
}

export interface RunnerCaseResult extends CaseResult {
  output: string;
  logLikelihoods?: number[];
}

export interface EvalRunSummary {
  results: RunnerCaseResult[];
  /** Mean case score and share of cases passed, over the cases run. */
  score: number;
  passRate: number;
  cancelled: boolean;
}

export async function runEval(
  cases: EvalCase[],
  model: EvalModel,
  o: { judge?: Judge; onCase?: (r: RunnerCaseResult, index: number) => void; signal?: { aborted: boolean } } = {},
): Promise<EvalRunSummary> {
  const results: RunnerCaseResult[] = [];
  let cancelled = false;
  for (let i = 0; i < cases.length; i++) {
    if (o.signal?.aborted) {
      cancelled = true;
      break;
    }
    const c = cases[i];
    const prompt = promptOf(c.input);
    const needsOutput = c.graders.some((g) => g.type !== "multiple-choice");
    const output = needsOutput ? await model.generate(prompt) : "";
    let lls: number[] | undefined;
    if (c.choices && c.graders.some((g) => g.type === "multiple-choice")) {
      lls = [];
      for (const choice of c.choices) lls.push(await model.logLikelihood(prompt, choice));
    }
    const graded = await gradeCase(c, output, { logLikelihoods: lls, judge: o.judge });
    const r: RunnerCaseResult = { ...graded, output, logLikelihoods: lls };
    results.push(r);
    o.onCase?.(r, i);
  }
  const n = Math.max(1, results.length);
  return {
    results,
    score: results.reduce((s, r) => s + r.score, 0) / n,
    passRate: results.filter((r) => r.pass).length / n,
    cancelled,
  };
}
