// inspect_ai sample datasets (JSONL; CSV goes through the CSV importer with inspect's column names).
// A sample: input (string or chat messages), target (string or list), choices, id, metadata, and
// sandbox/files/setup for agent tasks. The scorer is the task's Python code, not part of the file, so
// the grader is chosen at import. Export writes the same format; a case's Hearth-only fields travel
// under metadata.hearth and come back identical.
import { EvalCaseSchema, type ChatMessage, type EvalCase } from "../case";
import { canonicalJson } from "../hash";
import { graderChoiceNote, gradersFor, type GraderChoice } from "./grader-choice";
import { forEachJsonLine, type LineError } from "./limits";
import { isRecord, tagCasesForReview, type ImportResult } from "./report";
import { uniqueIds } from "./slug";
import { CASE_ID_PATTERN } from "../case";

const HEARTH = "hearth";
const SAMPLE_FIELDS = new Set(["input", "target", "choices", "id", "metadata", "sandbox", "files", "setup"]);
const letter = (k: number) => String.fromCharCode(65 + k);

/** A chat message list in inspect's shape; undefined when Hearth cannot hold it exactly. */
function readMessages(value: unknown): ChatMessage[] | undefined {
  if (!Array.isArray(value) || !value.length) return undefined;
  const out: ChatMessage[] = [];
  for (const m of value) {
    if (!isRecord(m) || !["system", "user", "assistant"].includes(m.role as string) || typeof m.content !== "string") return undefined;
    out.push({ role: m.role as ChatMessage["role"], content: m.content });
  }
  return out;
}

export function importInspectJsonl(text: string, grader: GraderChoice = "icontains", file = "samples.jsonl"): ImportResult {
  const result: ImportResult = { cases: [], notes: [], errors: [] };
  const lineErrors: LineError[] = [];
  const unique = uniqueIds();
  let choiceCases = 0;
  forEachJsonLine(text, lineErrors, (value, line) => {
    if (!isRecord(value)) return void lineErrors.push({ line, message: "expected a JSON object (a sample)" });
    const at = (field: string) => `line ${line}.${field}`;
    const rawId = value.id;
    const idText = typeof rawId === "number" && Number.isInteger(rawId) ? String(rawId) : typeof rawId === "string" ? rawId : undefined;
    const id = unique(idText && CASE_ID_PATTERN.test(idText) ? idText : `sample-${line}`);
    const note = (field: string, message: string, changesVerdict: boolean) => result.notes.push({ file, caseId: id, field: at(field), message, changesVerdict });
    if (idText !== undefined && idText !== id) note("id", `"${idText.slice(0, 40)}" is not a usable or unique case id; the case is ${id}`, false);

    const metadata = isRecord(value.metadata) ? { ...value.metadata } : undefined;
    const hearth = metadata?.[HEARTH];
    if (metadata) delete metadata[HEARTH];
    if (hearth !== undefined) {
      const restored = restore(value, hearth, id);
      if (restored) return void result.cases.push(restored);
      note("metadata.hearth", "not a Hearth case record this sample agrees with; imported from the sample's fields", false);
    }

    let input: string | ChatMessage[];
    if (typeof value.input === "string") input = value.input;
    else {
      const messages = readMessages(value.input);
      if (!messages) {
        if (!Array.isArray(value.input)) return void lineErrors.push({ line, message: "input must be a string or a list of chat messages" });
        note("input", "messages with tool calls, tool roles or content parts are kept as JSON text; the model sees that text, not the conversation", true);
        input = JSON.stringify(value.input);
      } else input = messages;
    }
    const targets = typeof value.target === "string" ? [value.target] : Array.isArray(value.target) && value.target.every((t) => typeof t === "string") ? (value.target as string[]) : [];
    if (value.target !== undefined && !targets.length && value.target !== "") note("target", "not a string or list of strings; ignored", true);
    for (const key of Object.keys(value)) {
      if (!SAMPLE_FIELDS.has(key)) note(key, "not a sample field; kept in metadata.inspect", false);
      else if (key === "sandbox" || key === "files" || key === "setup") note(key, `Hearth runs no sandbox, files or setup for a case; an agent task's ${key} is not honoured`, true);
    }
    const c: EvalCase = { id, input, graders: [], tags: [], clauses: [], metadata: { source: "inspect_ai" } };
    const extra = Object.fromEntries(Object.entries(value).filter(([k]) => !SAMPLE_FIELDS.has(k)));
    if (metadata && Object.keys(metadata).length) c.metadata!.sampleMetadata = metadata;
    if (Object.keys(extra).length) c.metadata!.inspect = extra;

    if (Array.isArray(value.choices)) {
      const choices = value.choices.filter((x): x is string => typeof x === "string");
      const answer = targets.length === 1 && /^[A-Z]$/.test(targets[0]) ? targets[0].charCodeAt(0) - 65 : -1;
      if (choices.length >= 2 && choices.length === value.choices.length && answer >= 0 && answer < choices.length) {
        c.choices = choices;
        c.answerIndex = answer;
        c.graders = [{ type: "multiple-choice" }];
        choiceCases++;
      } else note("choices", "choices need at least two strings and a target letter naming one of them; graded as free text", true);
    }
    if (!c.choices) {
      if (targets.length) c.expected = targets[0];
      c.graders = gradersFor(grader, targets);
      if (targets.length > 1 && grader === "similarity") note("target", "similarity compares with the first target only", true);
    }
    if (!c.graders.length) c.tags.push("needs-graders");
    result.cases.push(c);
  });
  result.errors.push(...lineErrors.map((e) => `line ${e.line}: ${e.message}`));
  result.notes.unshift(graderChoiceNote(file, grader, "inspect_ai's scorer is the task's Python code, not part of the dataset"));
  if (choiceCases) result.notes.push({ file, field: "choices", message: `${choiceCases} multiple-choice sample(s) are graded by log-likelihood of each choice (inspect's choice() scorer reads the letter the model answers)`, changesVerdict: false });
  tagCasesForReview(result);
  return result;
}

/** The sample exported by Hearth, if its fields still agree with the record under metadata.hearth. */
function restore(sample: Record<string, unknown>, hearth: unknown, id: string): EvalCase | undefined {
  if (!isRecord(hearth)) return undefined;
  const parsed = EvalCaseSchema.safeParse({ ...hearth, id, input: sample.input, ...(Array.isArray(sample.choices) ? { choices: sample.choices } : {}) });
  if (!parsed.success) return undefined;
  return canonicalJson(toInspectSample(parsed.data)) === canonicalJson(sample) ? parsed.data : undefined;
}

export function toInspectSample(c: EvalCase): Record<string, unknown> {
  const { id, input, choices, graders, tags, clauses, ...rest } = c;
  const target = choices && c.answerIndex !== undefined ? letter(c.answerIndex) : (c.expected ?? "");
  const hearth: Record<string, unknown> = { graders, tags, clauses };
  for (const [k, v] of Object.entries(rest)) if (v !== undefined) hearth[k] = v;
  return { id, input, target, ...(choices ? { choices } : {}), metadata: { [HEARTH]: hearth } };
}

/** One inspect_ai sample per line; Hearth's graders, tags, clauses and other fields under metadata.hearth. */
export function toInspectJsonl(cases: readonly EvalCase[]): string {
  return cases.map((c) => `${JSON.stringify(toInspectSample(c))}\n`).join("");
}
