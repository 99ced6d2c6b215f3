import type { Grader } from "./types";
import { failed, scored } from "./util";

/** Longest text (in code points) compared; beyond it the grader fails rather than run O(n·m). */
export const MAX_SIMILARITY_LENGTH = 10_000;

/** Levenshtein distance over code points, two rows of memory. */
export function levenshtein(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  if (s.length < t.length) return levenshteinArrays(t, s);
  return levenshteinArrays(s, t);
}

function levenshteinArrays(s: string[], t: string[]): number {
  let prev = new Uint32Array(t.length + 1);
  let curr = new Uint32Array(t.length + 1);
  for (let j = 0; j <= t.length; j++) prev[j] = j;
  for (let i = 1; i <= s.length; i++) {
    curr[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      curr[j] = Math.min(prev[j] + 1, curr[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, curr] = [curr, prev];
  }
  return prev[t.length];
}

export const gradeSimilarity: Grader<"similarity"> = (spec, { output, case: c }) => {
  const expected = spec.expected ?? c.expected;
  if (expected === undefined) return failed(spec, "no text to compare with: set the grader's expected or the case's expected");
  const fold = (s: string) => {
    const t = spec.trim === false ? s : s.trim();
    return spec.caseInsensitive ? t.toLowerCase() : t;
  };
  // Cheap bound before splitting into code points: more than 2n UTF-16 units means more than n code points.
  const a = fold(output);
  const b = fold(expected);
  const tooLong = () => failed(spec, `text longer than ${MAX_SIMILARITY_LENGTH} characters; similarity is not computed`);
  if (Math.max(a.length, b.length) > MAX_SIMILARITY_LENGTH * 2) return tooLong();
  const s = Array.from(a);
  const t = Array.from(b);
  const length = Math.max(s.length, t.length);
  if (length > MAX_SIMILARITY_LENGTH) return tooLong();
  const distance = s.length >= t.length ? levenshteinArrays(s, t) : levenshteinArrays(t, s);
  const score = length === 0 ? 1 : 1 - distance / length;
  const result = scored(spec, score, `similarity ${score.toFixed(3)} (edit distance ${distance})`);
  if (spec.maxDistance !== undefined) {
    result.pass = distance <= spec.maxDistance;
    if (spec.binaryScore) result.score = result.pass ? 1 : 0;
    result.reason += result.pass ? ` within ${spec.maxDistance}` : ` exceeds ${spec.maxDistance}`;
  }
  return result;
};
