// Runs an eval suite against a model: generates an output per case (greedy by default), scores
// multiple-choice cases by the log-likelihood of each choice, and grades with gradeCase.

import type { ChatMessage, EvalCase } from "./case";
import { gradeCase, type CaseResult } from "./grade";
import type { Judge } from "./graders/types";
import type { GPT } from "../nn/gpt";
import { completeText, gptTextModel, plainChatPrompt, type TextModel } from "../nn/text-model";

/** What the runner needs from a model; textEvalModel adapts a TextModel, tests and servers may stub it. */
export interface EvalModel {
  generate(prompt: string): Promise<string>;
  /** log p(continuation | context). */
  logLikelihood(context: string, continuation: string): Promise<number>;
  /** Chat inputs, when the model renders them itself (its chat template); without this they arrive flattened by promptOf. */
  chat?: {
    generate(messages: ChatMessage[]): Promise<string>;
    logLikelihood(messages: ChatMessage[], continuation: string): Promise<number>;
  };
}

export interface TextEvalOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /**
   * Generation ends at the first of these strings, and always at the model's stop tokens. Default:
   * a blank line for a model without stop tokens (a Hearth GPT); otherwise none, plus the plain chat
   * format's turn starts for chat inputs when the model has no chat template.
   */
  stop?: string[];
}

/**
 * A TextModel as an EvalModel: a string input is a raw prompt, a chat input goes through the
 * model's chat template (or the plain format); a multiple-choice choice is scored as a continuation.
 */
export function textEvalModel(model: TextModel, o: TextEvalOptions = {}): EvalModel {
  // A model without stop tokens (a Hearth GPT) has always ended its answers at a blank line.
  const stopsFor = (chat: boolean) => (model.stopTokenIds.length === 0 ? (o.stop ?? ["\n\n"]) : [...(o.stop ?? []), ...(chat ? model.chatStops : [])]);
  const generate = async (ids: number[], chat: boolean) =>
    (await completeText(model, ids, { maxNewTokens: o.maxNewTokens ?? 64, temperature: o.temperature ?? 0, topK: o.topK, seed: o.seed ?? 0, stop: stopsFor(chat) })).text;
  const logLikelihood = async (ids: number[], continuation: string) => (await model.logLikelihood(ids, model.encode(continuation))).logprob;
  return {
    generate: (prompt) => generate(model.promptIds(prompt), false),
    logLikelihood: (context, continuation) => logLikelihood(model.promptIds(context), continuation),
    chat: {
      generate: (messages) => generate(model.chatPromptIds(messages), true),
      logLikelihood: (messages, continuation) => logLikelihood(model.chatPromptIds(messages), continuation),
    },
  };
}

/** A GPT with its tokenizer, as textEvalModel(gptTextModel(model, tokenizer)). */
export function gptEvalModel(model: GPT, tokenizer: { encode(s: string): number[]; decode(ids: number[]): string }, o: TextEvalOptions = {}): EvalModel {
  return textEvalModel(gptTextModel(model, tokenizer), o);
}

/** A chat input flattened to Hearth's plain format, ending where the assistant's reply starts. */
export function promptOf(input: string | ChatMessage[]): string {
  return typeof input === "string" ? input : plainChatPrompt(input);
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
  o: {
    judge?: Judge;
    onCase?: (r: RunnerCaseResult, index: number) => void;
    signal?: { aborted: boolean };
    /**
     * Cases in flight at once (default 1): a model that batches requests (the torch engine) runs
     * them together. Results and onCase still come in case order.
     */
    concurrency?: number;
  } = {},
): Promise<EvalRunSummary> {
  const results: RunnerCaseResult[] = [];
  let cancelled = false;
  const width = Math.max(1, Math.floor(o.concurrency ?? 1));
  const runCase = async (c: EvalCase): Promise<RunnerCaseResult> => {
    const chat = typeof c.input !== "string" && model.chat ? { model: model.chat, messages: c.input } : null;
    const prompt = promptOf(c.input);
    const needsOutput = c.graders.some((g) => g.type !== "multiple-choice");
    const output = needsOutput ? await (chat ? chat.model.generate(chat.messages) : model.generate(prompt)) : "";
    let lls: number[] | undefined;
    if (c.choices && c.graders.some((g) => g.type === "multiple-choice")) {
      const score = (choice: string) => (chat ? chat.model.logLikelihood(chat.messages, choice) : model.logLikelihood(prompt, choice));
      // a batching model gets the choices at once; one that runs a request at a time gets them in turn
      lls = [];
      if (width > 1) lls = await Promise.all(c.choices.map(score));
      else for (const choice of c.choices) lls.push(await score(choice));
    }
    const graded = await gradeCase(c, output, { logLikelihoods: lls, judge: o.judge });
    return { ...graded, output, logLikelihoods: lls };
  };
  for (let i = 0; i < cases.length; i += width) {
    if (o.signal?.aborted) {
      cancelled = true;
      break;
    }
    const window = await Promise.all(cases.slice(i, i + width).map(runCase));
    window.forEach((r, j) => {
      results.push(r);
      o.onCase?.(r, i + j);
    });
  }
  const n = Math.max(1, results.length);
  return {
    results,
    score: results.reduce((s, r) => s + r.score, 0) / n,
    passRate: results.filter((r) => r.pass).length / n,
    cancelled,
  };
}
