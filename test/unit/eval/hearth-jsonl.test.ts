import { describe, expect, it } from "vitest";
import type { EvalCase } from "@/gpu/eval/case";
import { parseHearthJsonl, toHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { MAX_IMPORT_BYTES, MAX_LINE_BYTES } from "@/gpu/eval/formats/limits";
import { sha256Hex } from "@/gpu/eval/hash";

const suite: EvalCase[] = [
  {
    metadata: { owner: "ops", nested: { b: [1, 2.5, null], a: "é😀" } },
    id: "refund-window-1",
    input: "How long do I have to ask for a refund?",
    expected: "30 days",
    graders: [
      { values: ["30 days"], type: "contains", caseInsensitive: true },
      { type: "regex", pattern: "\\b30\\b", flags: "i", weight: 2 },
      { type: "json-schema", schema: { type: "object", required: ["a"], properties: { a: { type: "number" } } }, threshold: 1 },
    ],
    tags: ["refunds", "faq"],
    clauses: ["refunds#4.2"],
    threshold: 0.5,
  },
  {
    id: "mc:capital.1",
    input: [{ role: "system", content: "Answer briefly." }, { role: "user", content: "Capital of France?" }],
    choices: ["Paris", "Rome", "Madrid"],
    answerIndex: 0,
    graders: [{ type: "multiple-choice", metric: "acc_norm" }, { type: "rubric", rubric: "Mentions \"Paris\"\nonly", scale: "1-5" }],
    tags: [],
    clauses: [],
  },
];

describe("Hearth JSONL", () => {
  it("round-trips export -> import -> export byte for byte, and hashes the same", async () => {
    const first = toHearthJsonl(suite);
    const { cases, errors } = parseHearthJsonl(first);
    expect(errors).toEqual([]);
    expect(cases).toEqual(suite);
    const second = toHearthJsonl(cases);
    expect(second).toBe(first);
    expect(await sha256Hex(second)).toBe(await sha256Hex(first));
  });

  it("writes one line per case with keys in a stable order", () => {
    const text = toHearthJsonl(suite);
    expect(text.split("\n")).toHaveLength(3);
    expect(text.endsWith("\n")).toBe(true);
    expect(text.startsWith('{"clauses":["refunds#4.2"],"expected":"30 days","graders":[{"caseInsensitive":true,"type":"contains","values":["30 days"]}')).toBe(true);
  });

  it("exports an empty suite as an empty file", () => {
    expect(toHearthJsonl([])).toBe("");
    expect(parseHearthJsonl("")).toEqual({ cases: [], errors: [] });
  });

  it("reports every bad line by number and keeps the good ones", () => {
    const good = toHearthJsonl([suite[0]]).trim();
    const text = [
      good,
      "",
      "{not json",
      JSON.stringify({ ...suite[0], id: "bad id!" }),
      good,
      JSON.stringify({ ...suite[0], id: "x2", graders: [{ type: "contains", values: ["a"], caseInsensitve: true }] }),
      JSON.stringify({ ...suite[0], id: "x3", extra: 1 }),
      "[1,2]",
    ].join("\r\n");
    const { cases, errors } = parseHearthJsonl(text);
    expect(cases.map((c) => c.id)).toEqual(["refund-window-1"]);
    expect(errors.map((e) => e.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(errors[0].message).toMatch(/not valid JSON/);
    expect(errors[1].message).toMatch(/^id: /);
    expect(errors[2].message).toBe('duplicate id "refund-window-1" (first on line 1)');
    expect(errors[3].message).toMatch(/caseInsensitve/);
    expect(errors[4].message).toMatch(/extra/);
  });

  it("refuses a line over 1 MB and a file over 50 MB", () => {
    const longLine = JSON.stringify({ ...suite[0], expected: "x".repeat(MAX_LINE_BYTES) });
    expect(parseHearthJsonl(longLine).errors).toEqual([{ line: 1, message: "line is longer than 1 MB" }]);
    const huge = "\n".repeat(MAX_IMPORT_BYTES + 1);
    const r = parseHearthJsonl(huge);
    expect(r.cases).toEqual([]);
    expect(r.errors[0]).toMatchObject({ line: 0 });
    expect(r.errors[0].message).toMatch(/import limit is 50 MB/);
  });
});
