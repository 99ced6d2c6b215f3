// Is a difference between two eval runs on the same cases real? Two paired tests, computed from the
// cases both runs graded:
// - pass/fail: McNemar's test in its exact form (a two-sided binomial test on the discordant cases:
//   b passed only in the base run, c only in the candidate; p = min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c,
//   1/2)), as statsmodels' `mcnemar(table, exact=True)`. Exact at every size, so no continuity correction
//   and no large-sample caveat is needed.
// - scores: a paired bootstrap of the mean score difference (candidate - base) with the percentile
//   interval, as `scipy.stats.bootstrap((d,), np.mean, method="percentile")`, seeded so the same runs
//   always give the same interval.
import { mulberry32 } from "@/gpu/nn/config";

export const BOOTSTRAP_RESAMPLES = 10_000;
export const CONFIDENCE = 0.95;

/** log(n!) by summation, cached: n is at most the number of cases in a suite. */
const logFactorials: number[] = [0];
function logFactorial(n: number): number {
  for (let k = logFactorials.length; k <= n; k++) logFactorials[k] = logFactorials[k - 1] + Math.log(k);
  return logFactorials[n];
}

/** P(X <= k) for X ~ Bin(n, 1/2). */
export function binomialHalfCdf(k: number, n: number): number {
  if (k < 0) return 0;
  if (k >= n) return 1;
  let sum = 0;
  for (let i = 0; i <= k; i++) sum += Math.exp(logFactorial(n) - logFactorial(i) - logFactorial(n - i) - n * Math.LN2);
  return Math.min(1, sum);
}

/** McNemar's exact two-sided p-value from the discordant counts. */
export function mcnemarExact(b: number, c: number): number {
  const n = b + c;
  if (n === 0) return 1;
  return Math.min(1, 2 * binomialHalfCdf(Math.min(b, c), n));
}

export interface BootstrapInterval {
  mean: number;
  low: number;
  high: number;
  confidence: number;
  resamples: number;
}

/** Percentile bootstrap interval of the mean of `values` (paired differences), seeded. */
export function bootstrapMean(values: readonly number[], o: { resamples?: number; confidence?: number; seed?: number } = {}): BootstrapInterval | null {
  const n = values.length;
  if (n === 0) return null;
  const resamples = o.resamples ?? BOOTSTRAP_RESAMPLES;
  const confidence = o.confidence ?? CONFIDENCE;
  const rand = mulberry32(o.seed ?? 0);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[Math.floor(rand() * n)];
    means[r] = s / n;
  }
  means.sort();
  // numpy's percentile (linear interpolation), as scipy's percentile method uses
  const at = (q: number) => {
    const pos = q * (resamples - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(resamples - 1, lo + 1);
    return means[lo] + (means[hi] - means[lo]) * (pos - lo);
  };
  const alpha = (1 - confidence) / 2;
  return { mean: values.reduce((a, v) => a + v, 0) / n, low: at(alpha), high: at(1 - alpha), confidence, resamples };
}

export interface PairedOutcome {
  caseId: string;
  pass: boolean;
  score: number;
}

export interface Significance {
  /** Cases both runs graded. */
  cases: number;
  /** Passed in the base run only (regressed), and in the candidate only (improved). */
  regressed: number;
  improved: number;
  passRateDifference: number;
  mcnemar: { form: "exact"; p: number };
  scoreDifference: BootstrapInterval | null;
  /** One sentence for people: the difference, its p-value and interval, and whether it is likely real. */
  summary: string;
}

const pts = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} pts`;

/** The paired tests for a candidate against a base, over the cases both graded. */
export function compareOutcomes(base: readonly PairedOutcome[], candidate: readonly PairedOutcome[], o: { seed?: number } = {}): Significance {
  const before = new Map(base.map((r) => [r.caseId, r]));
  const pairs = candidate.filter((r) => before.has(r.caseId)).sort((x, y) => (x.caseId < y.caseId ? -1 : x.caseId > y.caseId ? 1 : 0));
  let regressed = 0;
  let improved = 0;
  let passedBefore = 0;
  let passedAfter = 0;
  const diffs: number[] = [];
  for (const now of pairs) {
    const was = before.get(now.caseId)!;
    if (was.pass && !now.pass) regressed++;
    if (!was.pass && now.pass) improved++;
    passedBefore += was.pass ? 1 : 0;
    passedAfter += now.pass ? 1 : 0;
    diffs.push(now.score - was.score);
  }
  const n = pairs.length;
  const p = mcnemarExact(regressed, improved);
  const scoreDifference = bootstrapMean(diffs, { seed: o.seed ?? 0 });
  const passRateDifference = n ? (passedAfter - passedBefore) / n : 0;
  const ci = scoreDifference ? `; mean score ${scoreDifference.mean >= 0 ? "+" : ""}${scoreDifference.mean.toFixed(3)}, ${Math.round(scoreDifference.confidence * 100)}% CI [${scoreDifference.low.toFixed(3)}, ${scoreDifference.high.toFixed(3)}] (paired bootstrap, ${scoreDifference.resamples} resamples)` : "";
  const verdict = n === 0 ? "no case in common" : p < 0.05 ? "unlikely to be chance (p < 0.05)" : "could be chance (p >= 0.05)";
  return {
    cases: n,
    regressed,
    improved,
    passRateDifference,
    mcnemar: { form: "exact", p },
    scoreDifference,
    summary: `pass rate ${pts(passRateDifference)} over ${n} paired cases (${improved} improved, ${regressed} regressed); McNemar exact p = ${p.toPrecision(3)}${ci}: ${verdict}`,
  };
}
