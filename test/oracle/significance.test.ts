// Hearth's paired tests (server/runs/significance.ts) against the libraries statisticians use:
// McNemar's exact p-value equals statsmodels' `mcnemar(exact=True)`, and the seeded paired bootstrap's
// percentile interval is within 0.01 of `scipy.stats.bootstrap(method="percentile")` on the same data
// (two different random streams: the tolerance is the resampling error, not a fudge).
import { describe, expect, it } from "vitest";
import { bootstrapMean, compareOutcomes, mcnemarExact } from "@/server/runs/significance";
import { oracleOrSkip, runOracle } from "../support/oracle";
import { mulberry32 } from "@/gpu/nn/config";

const oracle = oracleOrSkip();

const TABLES: [number, number][] = [
  [0, 0],
  [0, 5],
  [3, 9],
  [10, 10],
  [4, 21],
  [40, 61],
  [120, 95],
];

function diffs(n: number, seed: number, kind: "scores" | "passes"): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: n }, () => (kind === "passes" ? (rand() < 0.2 ? 1 : 0) - (rand() < 0.1 ? 1 : 0) : rand() - 0.45));
}

describe.skipIf(!oracle)("paired significance vs statsmodels and scipy", () => {
  it("gives statsmodels' McNemar exact p-values and scipy's percentile bootstrap intervals", () => {
    const samples = [diffs(12, 1, "passes"), diffs(60, 2, "scores"), diffs(200, 3, "passes"), diffs(500, 4, "scores")];
    const want = JSON.parse(runOracle("significance.py", [], { input: JSON.stringify({ tables: TABLES, diffs: samples }) }).stdout) as { mcnemar: number[]; bootstrap: [number, number][] };
    TABLES.forEach(([b, c], i) => expect(mcnemarExact(b, c), `b=${b} c=${c}`).toBeCloseTo(want.mcnemar[i], 10));
    samples.forEach((d, i) => {
      const got = bootstrapMean(d, { seed: 7 })!;
      expect(Math.abs(got.low - want.bootstrap[i][0]), `low of sample ${i}`).toBeLessThan(0.01);
      expect(Math.abs(got.high - want.bootstrap[i][1]), `high of sample ${i}`).toBeLessThan(0.01);
    });
  });
});

describe("comparing two runs case by case", () => {
  it("pairs by case id, counts the discordant cases, and says whether the difference is likely real", () => {
    const base = Array.from({ length: 40 }, (_, i) => ({ caseId: `c${i}`, pass: i < 20, score: i < 20 ? 1 : 0 }));
    // 14 improved, 1 regressed, one case only in the candidate
    const candidate = [
      ...base.map((r, i) => (i >= 20 && i < 34 ? { ...r, pass: true, score: 1 } : i === 0 ? { ...r, pass: false, score: 0 } : r)),
      { caseId: "new", pass: true, score: 1 },
    ];
    const s = compareOutcomes(base, candidate);
    expect(s).toMatchObject({ cases: 40, improved: 14, regressed: 1, mcnemar: { form: "exact" } });
    expect(s.passRateDifference).toBeCloseTo(13 / 40, 12);
    expect(s.mcnemar.p).toBeLessThan(0.01);
    expect(s.summary).toContain("unlikely to be chance");
    expect(s.scoreDifference!.low).toBeGreaterThan(0);
    // the same runs always give the same interval
    expect(compareOutcomes(base, candidate).scoreDifference).toEqual(s.scoreDifference);
    const same = compareOutcomes(base, base);
    expect(same.mcnemar.p).toBe(1);
    expect(same.summary).toContain("could be chance");
  });
});
