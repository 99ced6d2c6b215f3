import type { Grader } from "./types";
import { failed, scored } from "./util";

/**
 * lm-evaluation-harness's multiple-choice metrics. acc: argmax of the log-likelihoods; acc_norm:
 * argmax of ll / len(choice) where len is the choice's length in characters, exactly as the
 * harness computes it (`completion_len = [float(len(i)) for i in choices]`); acc_bytes divides by
 * the UTF-8 byte length instead and is reported for reference.
 */
export function multipleChoiceMetrics(choices: string[], logLikelihoods: number[], answerIndex: number) {
  const encoder = new TextEncoder();
  const chars = choices.map((c) => Math.max(1, Array.from(c).length));
  const bytes = choices.map((c) => Math.max(1, encoder.encode(c).length));
  const pred = argmax(logLikelihoods);
  const predNorm = argmax(logLikelihoods.map((ll, k) => ll / chars[k]));
  const predBytes = argmax(logLikelihoods.map((ll, k) => ll / bytes[k]));
  return {
    pred, predNorm, predBytes,
    acc: pred === answerIndex ? 1 : 0,
    acc_norm: predNorm === answerIndex ? 1 : 0,
    acc_bytes: predBytes === answerIndex ? 1 : 0,
  };
}

/** First index of the maximum (numpy's argmax tie rule). */
function argmax(values: number[]): number {
  let best = 0;
  for (let k = 1; k < values.length; k++) if (values[k] > values[best]) best = k;
  return best;
}

export const gradeMultipleChoice: Grader<"multiple-choice"> = (spec, { case: c, logLikelihoods }) => {
  if (!c.choices || c.answerIndex === undefined) return failed(spec, "the case has no choices or no answerIndex");
  if (c.answerIndex >= c.choices.length) return failed(spec, `answerIndex ${c.answerIndex} is out of range for ${c.choices.length} choices`);
  if (!logLikelihoods) return failed(spec, "no log-likelihoods were provided for the choices");
  if (logLikelihoods.length !== c.choices.length || logLikelihoods.some((v) => Number.isNaN(v))) {
    return failed(spec, `expected ${c.choices.length} log-likelihoods, got ${logLikelihoods.length}`);
  }
  const m = multipleChoiceMetrics(c.choices, logLikelihoods, c.answerIndex);
  const metric = spec.metric ?? "acc";
  return scored(spec, m[metric],
    `acc=${m.acc} (picked ${m.pred}), acc_norm=${m.acc_norm} (picked ${m.predNorm}), acc_bytes=${m.acc_bytes}; answer ${c.answerIndex}; score is ${metric}`);
};
