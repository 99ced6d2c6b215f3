import { DEFAULT_GRADER_THRESHOLD, type GraderSpec } from "../case";
import type { GradeResult } from "./types";

/** A result whose pass is the score compared with the spec's threshold (or the grader's default). */
export function scored(spec: GraderSpec, score: number, reason: string): GradeResult {
  const threshold = spec.threshold ?? DEFAULT_GRADER_THRESHOLD[spec.type];
  const clamped = Number.isFinite(score) ? Math.min(1, Math.max(0, score)) : 0;
  return { grader: spec.type, score: clamped, pass: clamped >= threshold, reason };
}

export function failed(spec: GraderSpec, reason: string): GradeResult {
  return { grader: spec.type, score: 0, pass: false, reason };
}

/** Quotes a value for a reason, shortened so a huge output never floods the results table. */
export function quote(text: string, max = 80): string {
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** Parses a model output as JSON, accepting one surrounding ```json fence. */
export function parseJsonOutput(output: string, acceptFence = true): { ok: true; value: unknown } | { ok: false; error: string } {
  let text = acceptFence ? output.trim() : output;
  const fence = acceptFence ? /^```[A-Za-z]*\n([\s\S]*)\n```$/.exec(text) : null;
  if (fence) text = fence[1];
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}
