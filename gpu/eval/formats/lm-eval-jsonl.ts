// Imports lm-evaluation-harness-style multiple-choice JSON Lines:
// {"query" | "question" | "ctx": ..., "choices": [...] | {"text": [...], "label": [...]},
//  "gold" | "label" | "answer" | "answerKey": index, numeric string or letter}.
import { CASE_ID_PATTERN, type EvalCase } from "../case";
import type { ParsedCases } from "./hearth-jsonl";
import { forEachJsonLine, type LineError } from "./limits";
import { uniqueIds } from "./slug";

export interface LmEvalImportOptions {
  /** Prefix of generated ids: "<prefix>-<line>". Default "mc". */
  idPrefix?: string;
  tags?: string[];
}

const QUESTION_KEYS = ["query", "question", "ctx", "prompt"];
const ANSWER_KEYS = ["gold", "label", "answer", "answerKey"];

export function parseLmEvalJsonl(text: string, options: LmEvalImportOptions = {}): ParsedCases {
  const cases: EvalCase[] = [];
  const errors: LineError[] = [];
  const unique = uniqueIds();
  const prefix = options.idPrefix ?? "mc";
  forEachJsonLine(text, errors, (value, line) => {
    const fail = (message: string) => errors.push({ line, message });
    if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("expected a JSON object");
    const doc = value as Record<string, unknown>;
    const questionKey = QUESTION_KEYS.find((k) => typeof doc[k] === "string");
    if (!questionKey) return fail(`no question: expected one of ${QUESTION_KEYS.join(", ")} as a string`);

    const { choices, labels } = readChoices(doc.choices);
    if (!choices) return fail('"choices" must be a list of at least 2 strings, or {"text": [...], "label": [...]}');
    const answerKey = ANSWER_KEYS.find((k) => doc[k] !== undefined && doc[k] !== null);
    if (!answerKey) return fail(`no answer: expected one of ${ANSWER_KEYS.join(", ")}`);
    const answerIndex = readAnswer(doc[answerKey], choices.length, labels);
    if (answerIndex === undefined) return fail(`${answerKey} ${JSON.stringify(doc[answerKey])} does not name one of the ${choices.length} choices`);

    const ownId = typeof doc.id === "string" && CASE_ID_PATTERN.test(doc.id) ? doc.id : undefined;
    const rest = Object.fromEntries(Object.entries(doc).filter(([k]) => k !== questionKey && k !== "choices" && k !== answerKey));
    cases.push({
      id: unique(ownId ?? `${prefix}-${line}`),
      input: doc[questionKey] as string,
      choices,
      answerIndex,
      graders: [{ type: "multiple-choice" }],
      tags: [...(options.tags ?? [])],
      clauses: [],
      metadata: { source: "lm-eval", ...(Object.keys(rest).length ? { doc: rest } : {}) },
    });
  });
  return { cases, errors };
}

function readChoices(raw: unknown): { choices?: string[]; labels?: string[] } {
  if (Array.isArray(raw)) return { choices: raw.length >= 2 && raw.every((c) => typeof c === "string") ? raw : undefined };
  if (typeof raw === "object" && raw !== null) {
    const { text, label } = raw as { text?: unknown; label?: unknown };
    if (Array.isArray(text) && text.length >= 2 && text.every((c) => typeof c === "string")) {
      const labels = Array.isArray(label) && label.length === text.length && label.every((l) => typeof l === "string") ? label : undefined;
      return { choices: text, labels };
    }
  }
  return {};
}

/** An index, a numeric string, a label from choices.label, or a letter A, B, C... */
function readAnswer(raw: unknown, count: number, labels?: string[]): number | undefined {
  let index: number | undefined;
  if (typeof raw === "number") index = raw;
  else if (typeof raw === "string") {
    const s = raw.trim();
    if (labels?.includes(s)) index = labels.indexOf(s);
    else if (/^\d+$/.test(s)) index = Number(s);
    else if (/^[A-Za-z]$/.test(s)) index = s.toUpperCase().charCodeAt(0) - 65;
  }
  return index !== undefined && Number.isInteger(index) && index >= 0 && index < count ? index : undefined;
}
