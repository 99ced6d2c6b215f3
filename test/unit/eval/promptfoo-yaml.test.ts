import { describe, expect, it } from "vitest";
import { importPromptfoo, parseCommaList, parsePromptfooYaml } from "@/gpu/eval/formats/promptfoo-yaml";
import { NEEDS_REVIEW_TAG, summarizeImport } from "@/gpu/eval/formats/report";
import { normalizePath, SourceFiles } from "@/gpu/eval/formats/source-files";
import { validateSuiteCases } from "@/gpu/eval/validate";
import { gradeCase } from "@/gpu/eval/grade";

const config = `
prompts:
  - "You are a support agent. Customer asks: {{question}} (tier {{tier}})"
tests:
  - description: Refund window, 30 days
    vars: { question: "How long for a refund?", tier: 2 }
    assert:
      - type: icontains
        value: 30 days
      - type: not-icontains
        value: guarantee
      - type: llm-rubric
        value: Polite and accurate
        threshold: 0.7
        weight: 2
  - vars: { question: "Run my code" }
    assert:
      - type: javascript
        value: "globalThis.pwned = 1; return true"
      - type: cost
        threshold: 0.01
  - description: Refund window, 30 days
    vars: { question: "again" }
    assert:
      - { type: contains-any, value: 'yes, "sure, ok"' }
      - { type: starts-with, value: "Hi (there)." }
      - { type: regex, value: "^\\\\d+" }
      - { type: is-json }
      - { type: is-json, value: { type: object, required: [a] } }
      - { type: similar, value: "hello", threshold: 0.9 }
      - { type: levenshtein, value: "hello", threshold: 2.5 }
      - { type: equals, value: "42" }
      - { type: not-contains, value: "sorry" }
      - { type: contains-all, value: [a, b] }
      - { type: frobnicate, value: x }
`;

describe("promptfoo import", () => {
  const { cases, notes, errors } = parsePromptfooYaml(config);

  it("imports every test, renders the prompt and keeps vars", () => {
    expect(errors).toEqual([]);
    expect(cases.map((c) => c.id)).toEqual(["refund-window-30-days", "test-2", "refund-window-30-days-2"]);
    expect(cases[0].input).toBe("You are a support agent. Customer asks: How long for a refund? (tier 2)");
    expect(cases[0].metadata).toMatchObject({ vars: { question: "How long for a refund?", tier: 2 }, description: "Refund window, 30 days" });
    expect(cases.every((c) => c.scoring === "mean-score")).toBe(true);
  });

  it("maps assertions to graders with promptfoo's meaning", () => {
    expect(cases[0].graders).toEqual([
      { type: "contains", values: ["30 days"], caseInsensitive: true },
      { type: "contains", values: ["guarantee"], caseInsensitive: true, negate: true },
      { type: "rubric", rubric: "Polite and accurate", threshold: 0.7, weight: 2 },
    ]);
    expect(cases[2].graders).toEqual([
      { type: "contains", values: ["yes", "sure, ok"], mode: "any", caseInsensitive: false },
      { type: "regex", pattern: "^Hi \\(there\\)\\." },
      { type: "regex", pattern: "^\\d+" },
      { type: "is-json", fence: false },
      { type: "json-schema", schema: { type: "object", required: ["a"] }, fence: false },
      { type: "similarity", expected: "hello", threshold: 0.9 },
      { type: "similarity", expected: "hello", maxDistance: 2, binaryScore: true, trim: false },
      { type: "equals", value: "42", trim: false },
      { type: "contains", values: ["sorry"], caseInsensitive: false, negate: true },
      { type: "contains", values: ["a", "b"], mode: "all", caseInsensitive: false },
    ]);
  });

  it("reports what it does not honour by file, case and field, and tags those cases needs-review", () => {
    const byField = (field: string) => notes.find((n) => n.field === field);
    expect(byField("tests[1].assert[0]")).toMatchObject({ file: "promptfooconfig.yaml", caseId: "test-2", changesVerdict: true, message: expect.stringMatching(/code and is never run/) });
    expect(byField("tests[1].assert[1]")).toMatchObject({ caseId: "test-2", changesVerdict: true, message: expect.stringMatching(/"cost" has no Hearth grader/) });
    expect(byField("tests[2].assert[10]")).toMatchObject({ message: expect.stringMatching(/"frobnicate"/) });
    expect(byField("tests[2].assert[5]")).toMatchObject({ message: expect.stringMatching(/embeddings/), changesVerdict: true });
    expect(byField("tests[0].assert[2]")).toMatchObject({ message: expect.stringMatching(/rubric judge/), changesVerdict: true });
    expect(cases.map((c) => c.tags.includes(NEEDS_REVIEW_TAG))).toEqual([true, true, true]);
  });

  it("never runs imported code", async () => {
    (globalThis as { pwned?: unknown }).pwned = undefined;
    const r = parsePromptfooYaml(`
prompts: ["{{q}}"]
tests:
  - vars: { q: hi }
    options: { transform: "globalThis.pwned = 1" }
    assert:
      - { type: javascript, value: "globalThis.pwned = 2; return true" }
      - { type: contains, value: hi, transform: "(globalThis.pwned = 3, output)" }
      - { type: python, value: "file://grade.py" }
      - { type: equals, value: "file://value.js" }
`);
    for (const c of r.cases) await gradeCase(c, "hi");
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    expect(r.cases[0].graders).toEqual([]);
    expect(r.cases[0].tags).toEqual(["needs-graders", NEEDS_REVIEW_TAG]);
    expect(r.notes.find((n) => n.field === "tests[0].options.transform")?.changesVerdict).toBe(true);
  });

  it("still imports a test whose assertions are all unsupported, flagged", () => {
    expect(cases[1].graders).toEqual([]);
    expect(cases[1].tags).toContain("needs-graders");
    expect(validateSuiteCases(cases).filter((p) => p.index === 1).map((p) => p.field)).toEqual(["graders"]);
  });

  it("produces cases that grade", async () => {
    const r = await gradeCase(cases[0], "Refunds within 30 DAYS.", { judge: async () => '{"score": 0.9, "reason": "ok"}' });
    expect(r.pass).toBe(true);
  });

  it("summarizes an import before anything is written", () => {
    const summary = summarizeImport({ cases, notes, errors });
    expect(summary.caseCount).toBe(3);
    expect(summary.gradersMapped).toMatchObject({ contains: 5, regex: 2, similarity: 2, rubric: 1, "is-json": 1, "json-schema": 1, equals: 1 });
    expect(summary.reviewCaseIds).toEqual(["refund-window-30-days", "test-2", "refund-window-30-days-2"]);
  });

  it.each([
    ["tests:\n  - vars: { input: hi }\n", ["hi"]],
    ["tests:\n  - vars: { question: q }\n", ["q"]],
    ["tests:\n  - vars: { a: 1, b: x }\n", ['{"a":1,"b":"x"}']],
    ["prompts: ['Say {{ word }}!']\ntests:\n  - vars: { word: hi }\n", ["Say hi!"]],
  ])("chooses inputs without a prompt template: %j", (yaml, inputs) => {
    expect(parsePromptfooYaml(yaml).cases.map((c) => c.input)).toEqual(inputs);
  });

  it.each([
    ["not: [valid", /not valid YAML/],
    ["just a string", /mapping/],
    ["prompts: [a]", /no tests found/],
    ["tests: file://tests.yaml", /not in the imported files/],
  ])("reports a file it cannot import: %j", (yaml, error) => {
    const r = parsePromptfooYaml(yaml);
    expect(r.cases).toEqual([]);
    expect(r.errors[0]).toMatch(error);
  });

  it("refuses a YAML alias bomb", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x]", ...Array.from({ length: 9 }, (_, k) => {
      const prev = String.fromCharCode(97 + k);
      const next = String.fromCharCode(98 + k);
      return `${next}: &${next} [*${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}, *${prev}]`;
    }), "tests: []"].join("\n");
    expect(parsePromptfooYaml(bomb).errors[0]).toMatch(/not valid YAML: .*alias/i);
  });

  it("expands list vars as promptfoo does and renders a missing var empty", () => {
    const r = parsePromptfooYaml("prompts: ['{{x}} {{y}}']\ntests:\n  - vars: { x: [1, 2] }\n    assert: [{ type: is-json }]\n");
    expect(r.cases.map((c) => c.input)).toEqual(["1 ", "2 "]);
  });

  it("reports template expressions it does not evaluate", () => {
    const r = parsePromptfooYaml("prompts: ['{{ x | upper }}']\ntests:\n  - vars: { x: a }\n    assert: [{ type: is-json }]\n");
    expect(r.cases[0].input).toBe("{{ x | upper }}");
    expect(r.notes[0]).toMatchObject({ changesVerdict: true, message: expect.stringMatching(/not evaluated/) });
  });

  it("keeps test metadata and reports test fields it does not import", () => {
    const r = parsePromptfooYaml("tests:\n  - vars: { input: a }\n    metadata: { team: ops }\n    provider: openai:gpt-4o\n    assert: [{ type: is-json }]\n");
    expect(r.notes.find((n) => n.field === "tests[0].provider")).toMatchObject({ changesVerdict: true });
    expect(r.cases[0].metadata).toMatchObject({ testMetadata: { team: "ops" } });
  });

  it("drops threshold where promptfoo ignores it, and says so without tagging", () => {
    const r = parsePromptfooYaml("tests:\n  - vars: { input: a }\n    assert: [{ type: contains, value: a, threshold: 0 }]\n");
    expect(r.cases[0].graders).toEqual([{ type: "contains", values: ["a"], caseInsensitive: false }]);
    expect(r.notes.find((n) => n.field === "tests[0].assert[0].threshold")).toMatchObject({ changesVerdict: false });
    expect(r.cases[0].tags).toEqual([]);
  });
});

describe("promptfoo folders", () => {
  const folder = (extra: Record<string, string>) => new SourceFiles(Object.entries({
    "promptfooconfig.yaml": `
tests:
  - vars: { input: a }
    assert:
      - { type: contains-any, value: file://lists/words.json }
      - { type: equals, value: file://../secret.txt }
      - { type: equals, value: file:///etc/passwd }
`,
    "lists/words.json": '["a", "b"]',
    ...extra,
  }));

  it("reads file:// values inside the folder and refuses paths that climb out or are absolute", () => {
    const r = importPromptfoo(folder({}));
    expect(r.cases[0].graders).toEqual([{ type: "contains", values: ["a", "b"], mode: "any", caseInsensitive: false }]);
    expect(r.notes.find((n) => n.field === "tests[0].assert[1].value")?.message).toMatch(/outside the imported folder; refused/);
    expect(r.notes.find((n) => n.field === "tests[0].assert[2].value")?.message).toMatch(/absolute path/);
    expect(r.cases[0].tags).toContain(NEEDS_REVIEW_TAG);
  });

  it("normalizes paths and refuses to climb above the folder", () => {
    expect(normalizePath("a/./b/../c.txt")).toBe("a/c.txt");
    expect(normalizePath("../x")).toBeUndefined();
    expect(normalizePath("a/../../x")).toBeUndefined();
    expect(normalizePath("a\\..\\x")).toBeUndefined();
  });

  it("reads tests from a YAML file in the folder", () => {
    const r = importPromptfoo(new SourceFiles([["promptfooconfig.yaml", "tests: file://t/tests.yaml\n"], ["t/tests.yaml", "- vars: { input: x }\n  assert: [{ type: is-json }]\n"]]));
    expect(r.errors).toEqual([]);
    expect(r.cases.map((c) => c.input)).toEqual(["x"]);
  });
});

describe("promptfoo's comma lists", () => {
  it.each([
    ["a, b,c", ["a", "b", "c"]],
    ['"Paris, France", Lyon', ["Paris, France", "Lyon"]],
    ['"say ""hi""", x', ['say "hi"', "x"]],
  ])("%j", (text, list) => {
    expect(parseCommaList(text)).toEqual(list);
  });
  it("refuses an unterminated quote", () => expect(parseCommaList('"open, x')).toBeUndefined());
});

describe("promptfoo YAML tags", () => {
  it("reads a !function tag as plain data, never as code, and says so", async () => {
    (globalThis as { pwned?: unknown }).pwned = undefined;
    const r = parsePromptfooYaml("tests:\n  - vars: { input: a }\n    assert:\n      - type: javascript\n        value: !function \"globalThis.pwned = 1\"\n      - { type: contains, value: a }\n");
    await gradeCase(r.cases[0], "a");
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
    expect(r.notes[0]).toMatchObject({ field: "(file)", changesVerdict: true });
    expect(r.cases[0].graders).toEqual([{ type: "contains", values: ["a"], caseInsensitive: false }]);
  });
});

describe("promptfoo configs built to exhaust the importer", () => {
  it("bounds $ref fan-out", () => {
    const levels = Array.from({ length: 30 }, (_, k) => `  t${k}: [{ $ref: "#/assertionTemplates/t${k + 1}" }, { $ref: "#/assertionTemplates/t${k + 1}" }]`).join("\n");
    const r = parsePromptfooYaml(`assertionTemplates:\n${levels}\n  t30: { type: contains, value: x }\ntests:\n  - vars: { input: a }\n    assert: [{ $ref: "#/assertionTemplates/t0" }]\n`);
    expect(r.notes.some((n) => /more than 200000 values/.test(n.message))).toBe(true);
  });

  it("refuses list vars that multiply past the case limit", () => {
    const list = `[${Array.from({ length: 200 }, (_, k) => k).join(", ")}]`;
    const r = parsePromptfooYaml(`tests:\n  - vars: { a: ${list}, b: ${list}, c: ${list} }\n    assert: [{ type: is-json }]\n`);
    expect(r.errors[0]).toMatch(/more than 20000 cases/);
    expect(r.cases.length).toBeLessThanOrEqual(20_000);
  });
});
