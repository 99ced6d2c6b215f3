// The release gate: does a candidate's eval run meet the suite's thresholds, and what regressed
// against the baseline's run on the same cases, and is the difference likely real (significance.ts)?
import { compareOutcomes, type Significance } from "./significance";

export interface CaseOutcome {
  caseId: string;
  pass: boolean;
  score: number;
  tags: string[];
}

export interface Thresholds {
  /** Minimum pass rate over all cases, in [0,1]. */
  overall?: number;
  /** Minimum pass rate per tag. */
  tags?: Record<string, number>;
  /** Count the verdicts of judges people have not calibrated (server/review/calibration.ts); off unless set. */
  countUncalibratedJudges?: boolean;
}

export interface ThresholdCheck {
  name: string;
  required: number;
  actual: number | null;
  pass: boolean;
  cases: number;
}

export interface GateReport {
  pass: boolean;
  checks: ThresholdCheck[];
  candidate: { passRate: number; cases: number };
  baseline: { passRate: number; cases: number } | null;
  regressions: { caseId: string; baselineScore: number; candidateScore: number }[];
  improvements: { caseId: string; baselineScore: number; candidateScore: number }[];
  /** Against the baseline (on the cases both graded): McNemar's exact test and a paired bootstrap interval. */
  significance: Significance | null;
}

function passRate(outcomes: CaseOutcome[]): number | null {
  return outcomes.length ? outcomes.filter((o) => o.pass).length / outcomes.length : null;
}

export function gate(candidate: CaseOutcome[], baseline: CaseOutcome[] | null, thresholds: Thresholds): GateReport {
  const checks: ThresholdCheck[] = [];
  if (thresholds.overall !== undefined) {
    const actual = passRate(candidate);
    checks.push({ name: "overall", required: thresholds.overall, actual, pass: actual !== null && actual >= thresholds.overall, cases: candidate.length });
  }
  for (const [tag, required] of Object.entries(thresholds.tags ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const tagged = candidate.filter((o) => o.tags.includes(tag));
    const actual = passRate(tagged);
    // A threshold on a tag no case carries cannot be met: it is reported, not silently passed.
    checks.push({ name: `tag:${tag}`, required, actual, pass: actual !== null && actual >= required, cases: tagged.length });
  }
  const regressions: GateReport["regressions"] = [];
  const improvements: GateReport["improvements"] = [];
  if (baseline) {
    const before = new Map(baseline.map((o) => [o.caseId, o]));
    for (const now of candidate) {
      const was = before.get(now.caseId);
      if (!was) continue;
      if (was.pass && !now.pass) regressions.push({ caseId: now.caseId, baselineScore: was.score, candidateScore: now.score });
      if (!was.pass && now.pass) improvements.push({ caseId: now.caseId, baselineScore: was.score, candidateScore: now.score });
    }
  }
  return {
    pass: checks.every((c) => c.pass),
    checks,
    candidate: { passRate: passRate(candidate) ?? 0, cases: candidate.length },
    baseline: baseline ? { passRate: passRate(baseline) ?? 0, cases: baseline.length } : null,
    regressions,
    improvements,
    significance: baseline ? compareOutcomes(baseline, candidate) : null,
  };
}
