// Importers for inspect_ai, OpenAI evals, Langfuse and mapped CSV, on fixtures written for these tests,
// and the round trips Hearth -> promptfoo YAML -> Hearth and Hearth -> inspect JSONL -> Hearth.
// (inspect_ai itself is not installable here: its sample format is checked against its documentation,
// https://inspect.aisi.org.uk/datasets.html: input, target, choices, id, metadata, sandbox, files, setup.)
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { EvalCase } from "@/gpu/eval/case";
import { gradeCase } from "@/gpu/eval/grade";
import { importCsv, parseCsv } from "@/gpu/eval/formats/csv";
import { importInspectJsonl, toInspectJsonl } from "@/gpu/eval/formats/inspect";
import { importLangfuseDataset } from "@/gpu/eval/formats/langfuse";
import { importOpenAiEvalsJsonl } from "@/gpu/eval/formats/openai-evals";
import { toPromptfooYaml } from "@/gpu/eval/formats/promptfoo-export";
import { parsePromptfooYaml } from "@/gpu/eval/formats/promptfoo-yaml";
import { NEEDS_REVIEW_TAG } from "@/gpu/eval/formats/report";
import { validateSuiteCases } from "@/gpu/eval/validate";

const fixture = (name: string) => fs.readFileSync(path.resolve(import.meta.dirname, "../../fixtures/import", name), "utf8");

describe("inspect_ai samples", () => {
  const r = importInspectJsonl(fixture("inspect-samples.jsonl"), "icontains", "inspect-samples.jsonl");
  const byId = Object.fromEntries(r.cases.map((c) => [c.id, c]));

  it("maps input, target, choices, id and metadata", () => {
    expect(r.errors).toEqual([]);
    expect(r.cases.map((c) => c.id)).toEqual(["1", "chat-1", "mc-1", "agent-1", "sample-5"]);
    expect(byId["1"]).toMatchObject({ input: "What is the capital of France?", expected: "Paris", graders: [{ type: "contains", values: ["Paris"], mode: "any", caseInsensitive: true }], metadata: { sampleMetadata: { topic: "geography" } } });
    expect(byId["chat-1"].input).toEqual([{ role: "system", content: "Answer in one word." }, { role: "user", content: "Largest planet?" }]);
    expect(byId["chat-1"].graders).toEqual([{ type: "contains", values: ["Jupiter", "jupiter"], mode: "any", caseInsensitive: true }]);
    expect(byId["mc-1"]).toMatchObject({ choices: ["4", "6", "7", "9"], answerIndex: 2, graders: [{ type: "multiple-choice" }] });
    expect(validateSuiteCases(r.cases)).toEqual([]);
  });

  it("reports sandbox, files, setup and tool messages, tagging those cases for review", () => {
    const fields = r.notes.filter((n) => n.changesVerdict).map((n) => `${n.caseId} ${n.field}`);
    expect(fields).toEqual(["agent-1 line 4.sandbox", "agent-1 line 4.files", "agent-1 line 4.setup", "sample-5 line 5.input"]);
    expect(r.cases.filter((c) => c.tags.includes(NEEDS_REVIEW_TAG)).map((c) => c.id)).toEqual(["agent-1", "sample-5"]);
    expect(r.notes[0]).toMatchObject({ field: "(grader)", changesVerdict: false, message: expect.stringMatching(/scorer is the task's Python code/) });
  });

  it("grades like inspect's includes(): target anywhere in the output, ignoring case", async () => {
    expect((await gradeCase(byId["1"], "It is PARIS.")).pass).toBe(true);
    expect((await gradeCase(byId["1"], "Lyon")).pass).toBe(false);
  });

  it("reads an inspect CSV through the column mapping", () => {
    const csv = importCsv(fixture("inspect-samples.csv"), { input: "input", expected: "target", id: "id", grader: "icontains" }, "inspect-samples.csv");
    expect(csv.cases.map((c) => [c.id, c.input, c.expected, c.metadata])).toEqual([
      ["q1", "What is 2 + 2?", "4", { source: "csv", columns: { topic: "math" } }],
      ["q2", "Name a primary colour, please", "red", { source: "csv", columns: { topic: "art" } }],
    ]);
  });
});

describe("OpenAI evals samples", () => {
  const r = importOpenAiEvalsJsonl(fixture("openai-evals-samples.jsonl"));

  it("maps chat input and ideal answers, graded as the Match class does (starts with an ideal)", async () => {
    expect(r.errors).toEqual([]);
    expect(r.cases[0]).toMatchObject({ input: [{ role: "system", content: "Answer with a number." }, { role: "user", content: "What is 7 * 6?" }], expected: "42", graders: [{ type: "regex", pattern: "^(?:42)" }] });
    expect(r.cases[1].graders).toEqual([{ type: "regex", pattern: "^(?:Blue|White|Red)" }]);
    expect((await gradeCase(r.cases[1], "White, mostly")).pass).toBe(true);
    expect((await gradeCase(r.cases[1], "It is white")).pass).toBe(false);
    expect(r.cases[2].metadata).toMatchObject({ sample: { difficulty: "easy" } });
  });

  it("reports a role Hearth cannot hold and tags the case", () => {
    expect(r.notes.find((n) => n.field === "line 4.input[0].role")).toMatchObject({ caseId: "sample-4", changesVerdict: true });
    expect(r.cases[3].tags).toContain(NEEDS_REVIEW_TAG);
  });
});

describe("Langfuse dataset export", () => {
  const r = importLangfuseDataset(fixture("langfuse-dataset.json"), "equals", "langfuse-dataset.json");

  it("maps items, keeps trace links and metadata, and leaves archived items out, saying so", () => {
    expect(r.errors).toEqual([]);
    expect(r.cases.map((c) => c.id)).toEqual(["item-refund", "item-chat", "item-structured"]);
    expect(r.cases[0]).toMatchObject({ input: "Can I return shoes after 40 days?", expected: "No, the window is 30 days.", graders: [{ type: "equals" }], metadata: { itemMetadata: { channel: "email" }, langfuse: { sourceTraceId: "trace-1" } } });
    expect(r.cases[1].input).toEqual([{ role: "user", content: "Where is my order?" }]);
    expect(r.cases[2]).toMatchObject({ input: '{"order":17,"question":"Order total?"}', expected: '{"total":42}' });
    expect(r.notes.find((n) => n.field === "[3].status")?.message).toMatch(/archived/);
    expect(r.cases[2].tags).toEqual([NEEDS_REVIEW_TAG]);
  });
});

describe("CSV with a column mapping", () => {
  it("parses quotes, doubled quotes and line breaks inside fields", () => {
    expect(parseCsv('a,b\n"x, y","say ""hi"""\n"1\n2",3\r\n').rows).toEqual([["a", "b"], ["x, y", 'say "hi"'], ["1\n2", "3"]]);
    expect(parseCsv('a\n"open').error).toMatch(/never closed/);
  });

  it("imports the mapped columns and keeps the rest as metadata", () => {
    const r = importCsv(fixture("mapped.csv"), { input: "Question", expected: "Answer", id: "Case", tags: "Labels", grader: "equals" });
    expect(r.errors).toEqual([]);
    expect(r.cases.map((c) => [c.id, c.input, c.expected, c.tags])).toEqual([
      ["it-capital", "Capital of Italy?", "Rome", ["geo", "easy"]],
      ["es-capital", "Capital of Spain?", "Madrid", ["geo"]],
      ["row-4", "Multi\nline question", "yes", ["misc"]],
    ]);
    expect(r.cases[0].metadata).toEqual({ source: "csv", columns: { Notes: 'says "Rome"' } });
    expect(r.notes.find((n) => n.field === "Notes")).toBeDefined();
  });

  it("refuses a mapping that names a missing column", () => {
    expect(importCsv(fixture("mapped.csv"), { input: "Prompt", grader: "equals" }).errors[0]).toMatch(/"Prompt" is not in the header/);
  });
});

const SUITE: EvalCase[] = [
  { id: "refund-window", input: "How long is the refund window?", expected: "30 days", graders: [{ type: "equals" }, { type: "contains", values: ["30"] }, { type: "rubric", rubric: "Polite", scale: "1-5", weight: 2 }], tags: ["refunds"], clauses: ["refunds#4.2"] },
  { id: "chat", input: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }], graders: [{ type: "regex", pattern: "^Hi", flags: "i" }, { type: "is-json", fence: false, negate: true }, { type: "similarity", expected: "Hello", maxDistance: 2, trim: false, binaryScore: true }, { type: "similarity", expected: "Hello", maxDistance: 2 }], tags: [], clauses: [], threshold: 0.5 },
  { id: "mc", input: "Pick the prime", choices: ["4", "7"], answerIndex: 1, graders: [{ type: "multiple-choice", metric: "acc_norm" }], tags: ["math"], clauses: [], metadata: { origin: "lm-eval" } },
  { id: "pf", input: "[not a chat] {{x}}", graders: [{ type: "group", graders: [{ type: "contains", values: ["a", "b"], mode: "any", caseInsensitive: true }, { type: "equals", value: '{"a":1}', json: true }], threshold: 0.5, metricName: "set" }, { type: "json-schema", schema: { type: "object" }, fence: false, weight: 0 }], tags: [NEEDS_REVIEW_TAG], clauses: [], scoring: "mean-score", threshold: 0.75 },
];

describe("exports and round trips", () => {
  it("Hearth -> promptfoo YAML -> Hearth gives identical cases", () => {
    const yaml = toPromptfooYaml(SUITE, "support v1");
    const back = parsePromptfooYaml(yaml);
    expect(back.errors).toEqual([]);
    expect(back.cases).toEqual(SUITE);
    expect(back.notes.filter((n) => n.caseId)).toEqual([]);
  });

  it("writes the graders promptfoo can express as assertions, and the rest under metadata.hearth", () => {
    const yaml = toPromptfooYaml(SUITE);
    expect(yaml).toContain("type: icontains-any");
    expect(yaml).toContain("type: assert-set");
    expect(yaml).toContain("type: not-is-json");
    expect(yaml).toContain("type: levenshtein");
    const refund = parsePromptfooYaml(yaml.replace(/metadata:\n(\s+)hearth:/g, "metadata:\n$1was:")).cases[0];
    // Without the Hearth record the test still grades by what promptfoo could express: contains 30.
    expect(refund.graders).toEqual([{ type: "contains", values: ["30"], caseInsensitive: false }]);
  });

  it("falls back to the assertions, and says so, when an exported test was edited", () => {
    const yaml = toPromptfooYaml([SUITE[0]]).replace('value: "30"', 'value: "31"');
    const back = parsePromptfooYaml(yaml);
    expect(back.cases[0].graders).toEqual([{ type: "contains", values: ["31"], caseInsensitive: false }]);
    expect(back.notes.some((n) => /edited after Hearth exported/.test(n.message))).toBe(true);
  });

  it("Hearth -> inspect JSONL -> Hearth gives identical cases", () => {
    const jsonl = toInspectJsonl(SUITE);
    const lines = jsonl.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[2]).toMatchObject({ id: "mc", input: "Pick the prime", choices: ["4", "7"], target: "B" });
    expect(lines[0]).toMatchObject({ target: "30 days", metadata: { hearth: { graders: SUITE[0].graders } } });
    const back = importInspectJsonl(jsonl);
    expect(back.errors).toEqual([]);
    expect(back.cases).toEqual(SUITE);
  });
});
