// OpenAI evals samples (JSONL): {"input": [chat messages] | "text", "ideal": "answer" | ["a", "b"]}.
// The eval class (Match, Includes, FuzzyMatch, model-graded) is in the registry YAML, not the samples,
// so the grader is chosen at import; the default, starts-with, is the Match class's rule.
import { CASE_ID_PATTERN, type ChatMessage, type EvalCase } from "../case";
import { graderChoiceNote, gradersFor, type GraderChoice } from "./grader-choice";
import { forEachJsonLine, type LineError } from "./limits";
import { isRecord, tagCasesForReview, type ImportResult } from "./report";
import { uniqueIds } from "./slug";

export function importOpenAiEvalsJsonl(text: string, grader: GraderChoice = "starts-with", file = "samples.jsonl"): ImportResult {
  const result: ImportResult = { cases: [], notes: [], errors: [] };
  const lineErrors: LineError[] = [];
  const unique = uniqueIds();
  forEachJsonLine(text, lineErrors, (value, line) => {
    if (!isRecord(value)) return void lineErrors.push({ line, message: "expected a JSON object (a sample)" });
    const id = unique(typeof value.id === "string" && CASE_ID_PATTERN.test(value.id) ? value.id : `sample-${line}`);
    const note = (field: string, message: string, changesVerdict: boolean) => result.notes.push({ file, caseId: id, field: `line ${line}.${field}`, message, changesVerdict });
    let input: string | ChatMessage[];
    if (typeof value.input === "string") input = value.input;
    else if (Array.isArray(value.input) && value.input.length) {
      const messages: ChatMessage[] = [];
      for (const [k, m] of value.input.entries()) {
        if (!isRecord(m) || typeof m.content !== "string") return void lineErrors.push({ line, message: `input[${k}] is not a chat message with string content` });
        const role = m.role === "system" || m.role === "user" || m.role === "assistant" ? m.role : "user";
        if (role !== m.role) note(`input[${k}].role`, `role "${String(m.role)}" is not one Hearth holds; sent as user`, true);
        for (const key of Object.keys(m)) if (!["role", "content"].includes(key)) note(`input[${k}].${key}`, "not imported (Hearth messages have a role and content)", key !== "name");
        messages.push({ role, content: m.content });
      }
      input = messages;
    } else return void lineErrors.push({ line, message: '"input" must be a string or a list of chat messages' });
    const ideals = typeof value.ideal === "string" ? [value.ideal] : Array.isArray(value.ideal) && value.ideal.every((v) => typeof v === "string") ? (value.ideal as string[]) : [];
    if (value.ideal !== undefined && !ideals.length) note("ideal", "not a string or list of strings; ignored", true);
    const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !["input", "ideal", "id"].includes(k)));
    if (Object.keys(rest).length) note(Object.keys(rest).join(", "), "kept in metadata.sample; Hearth's graders do not read them", false);
    if (ideals.length > 1 && grader === "similarity") note("ideal", "similarity compares with the first ideal only", true);
    const graders = gradersFor(grader, ideals);
    result.cases.push({
      id,
      input,
      ...(ideals.length ? { expected: ideals[0] } : {}),
      graders,
      tags: graders.length ? [] : ["needs-graders"],
      clauses: [],
      metadata: { source: "openai-evals", ...(ideals.length > 1 ? { ideal: ideals } : {}), ...(Object.keys(rest).length ? { sample: rest } : {}) },
    } satisfies EvalCase);
  });
  result.errors.push(...lineErrors.map((e) => `line ${e.line}: ${e.message}`));
  result.notes.unshift(graderChoiceNote(file, grader, "an OpenAI eval's class lives in its registry YAML, not the samples"));
  tagCasesForReview(result);
  return result;
}
