// A Langfuse dataset export: a JSON array (or JSON Lines) of dataset items
// {id, input, expectedOutput, metadata, sourceTraceId, sourceObservationId, status, ...}.
// Langfuse keeps scoring in evaluators outside the dataset, so the grader is chosen at import.
import { CASE_ID_PATTERN, type ChatMessage, type EvalCase } from "../case";
import { canonicalJson } from "../hash";
import { graderChoiceNote, gradersFor, type GraderChoice } from "./grader-choice";
import { checkImportSize, forEachJsonLine, type LineError } from "./limits";
import { isRecord, tagCasesForReview, type ImportResult } from "./report";
import { uniqueIds } from "./slug";

const ITEM_FIELDS = new Set(["id", "input", "expectedOutput", "metadata", "status", "sourceTraceId", "sourceObservationId", "datasetId", "datasetName", "createdAt", "updatedAt"]);

function chatFrom(value: unknown): ChatMessage[] | undefined {
  const list = isRecord(value) && Array.isArray(value.messages) ? value.messages : value;
  if (!Array.isArray(list) || !list.length) return undefined;
  if (isRecord(value) && Object.keys(value).length !== 1) return undefined; // {messages, other fields}: keep as JSON
  const out: ChatMessage[] = [];
  for (const m of list) {
    if (!isRecord(m) || !["system", "user", "assistant"].includes(m.role as string) || typeof m.content !== "string" || Object.keys(m).length !== 2) return undefined;
    out.push({ role: m.role as ChatMessage["role"], content: m.content });
  }
  return out;
}

export function importLangfuseDataset(text: string, grader: GraderChoice = "equals", file = "dataset.json"): ImportResult {
  const result: ImportResult = { cases: [], notes: [], errors: [] };
  const size = checkImportSize(text);
  if (size) return { ...result, errors: [size] };
  const items: { item: unknown; where: string }[] = [];
  if (text.trimStart().startsWith("[")) {
    try {
      const list = JSON.parse(text);
      if (Array.isArray(list)) list.forEach((item, k) => items.push({ item, where: `[${k}]` }));
    } catch (e) {
      return { ...result, errors: [`not valid JSON: ${(e as Error).message}`] };
    }
  } else {
    const lineErrors: LineError[] = [];
    forEachJsonLine(text, lineErrors, (item, line) => items.push({ item, where: `line ${line}` }));
    result.errors.push(...lineErrors.map((e) => `line ${e.line}: ${e.message}`));
  }
  const unique = uniqueIds();
  for (const { item, where } of items) {
    if (!isRecord(item)) {
      result.errors.push(`${where}: expected a dataset item object`);
      continue;
    }
    const id = unique(typeof item.id === "string" && CASE_ID_PATTERN.test(item.id) ? item.id : `item-${result.cases.length + 1}`);
    const note = (field: string, message: string, changesVerdict: boolean) => result.notes.push({ file, caseId: id, field: `${where}.${field}`, message, changesVerdict });
    if (item.status === "ARCHIVED") {
      result.notes.push({ file, field: `${where}.status`, message: "archived item; not imported (Langfuse leaves archived items out of runs)", changesVerdict: false });
      continue;
    }
    let input: string | ChatMessage[];
    if (typeof item.input === "string") input = item.input;
    else if (item.input === undefined || item.input === null) {
      result.errors.push(`${where}: the item has no input`);
      continue;
    } else {
      const chat = chatFrom(item.input);
      if (chat) input = chat;
      else {
        input = canonicalJson(item.input);
        note("input", "structured input is sent to the model as JSON text; review that your prompt expects it", false);
      }
    }
    let expected: string | undefined;
    if (typeof item.expectedOutput === "string") expected = item.expectedOutput;
    else if (item.expectedOutput !== undefined && item.expectedOutput !== null) {
      expected = canonicalJson(item.expectedOutput);
      note("expectedOutput", "structured expected output is compared as its JSON text", true);
    }
    const extra = Object.fromEntries(Object.entries(item).filter(([k]) => !["id", "input", "expectedOutput", "metadata", "status"].includes(k)));
    for (const key of Object.keys(item)) if (!ITEM_FIELDS.has(key)) note(key, "not a Langfuse item field; kept in metadata.langfuse", false);
    const graders = gradersFor(grader, expected !== undefined ? [expected] : []);
    result.cases.push({
      id,
      input,
      ...(expected !== undefined ? { expected } : {}),
      graders,
      tags: graders.length ? [] : ["needs-graders"],
      clauses: [],
      metadata: { source: "langfuse", ...(isRecord(item.metadata) ? { itemMetadata: item.metadata } : {}), ...(Object.keys(extra).length ? { langfuse: extra } : {}) },
    } satisfies EvalCase);
  }
  if (!items.length && !result.errors.length) result.errors.push("no dataset items found");
  result.notes.unshift(graderChoiceNote(file, grader, "Langfuse datasets hold no scoring (evaluators live outside them)"));
  tagCasesForReview(result);
  return result;
}
