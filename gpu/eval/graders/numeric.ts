import type { Grader } from "./types";
import { failed, quote, scored } from "./util";

// Accepts thousands separators (1,234.5), signs and exponents.
const NUMBER = /[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+(?:[eE][-+]?\d+)?/;
const WHOLE = new RegExp(`^(?:${NUMBER.source})$`);

/** The first number in text ("first") or the whole trimmed text as one number ("whole"). */
export function extractNumber(text: string, mode: "first" | "whole" = "first"): number | undefined {
  const m = mode === "whole" ? WHOLE.exec(text.trim()) : NUMBER.exec(text);
  return m ? Number(m[0].replaceAll(",", "")) : undefined;
}

export const gradeNumeric: Grader<"numeric"> = (spec, { output, case: c }) => {
  const expected = spec.expected ?? (c.expected === undefined ? undefined : extractNumber(c.expected, "whole"));
  if (expected === undefined) return failed(spec, "no expected number: set the grader's expected or a numeric case expected");
  const actual = extractNumber(output.slice(0, 100_000), spec.extract ?? "first");
  if (actual === undefined) return scored(spec, 0, `no number found in ${quote(output)}`);
  const tolerance = Math.max(spec.absTolerance ?? 0, (spec.relTolerance ?? 0) * Math.abs(expected));
  const diff = Math.abs(actual - expected);
  const ok = diff <= tolerance;
  return scored(spec, ok ? 1 : 0, `got ${actual}, expected ${expected} ± ${tolerance} (off by ${diff})`);
};
