import { describe, expect, it } from "vitest";
import { parsePromptfooYaml } from "@/gpu/eval/formats/promptfoo-yaml";
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
        value: output.length > 3
      - type: cost
        threshold: 0.01
  - description: Refund window, 30 days
    vars: { question: "again" }
    assert:
      - { type: contains-any, value: "yes, sure" }
      - { type: starts-with, value: "Hi (there)." }
      - { type: regex, value: "^\\\\d+" }
      - { type: is-json }
      - { type: is-json, value: { type: object, required: [a] } }
      - { type: similar, value: "hello", threshold: 0.9 }
      - { type: levenshtein, value: "hello", threshold: 2 }
      - { type: equals, value: "42" }
      - { type: not-contains, value: "sorry" }
      - { type: contains-all, value: [a, b] }
      - { type: frobnicate, value: x }
`;

describe("promptfoo YAML import", () => {
  const { cases, warnings, errors } = parsePromptfooYaml(config);

  it("imports every test, renders the prompt and keeps vars", () => {
    expect(errors).toEqual([]);
    expect(cases.map((c) => c.id)).toEqual(["refund-window-30-days", "test-2", "refund-window-30-days-2"]);
    expect(cases[0].input).toBe("You are a support agent. Customer asks: How long for a refund? (tier 2)");
    expect(cases[0].metadata).toMatchObject({ vars: { question: "How long for a refund?", tier: 2 }, description: "Refund window, 30 days" });
  });

  it("maps the common assertions to Hearth graders", () => {
    expect(cases[0].graders).toEqual([
      { type: "contains", values: ["30 days"], caseInsensitive: true },
      { type: "forbidden", phrases: ["guarantee"] },
      { type: "rubric", rubric: "Polite and accurate", threshold: 0.7, weight: 2 },
    ]);
    expect(cases[2].graders).toEqual([
      { type: "contains", values: ["yes", "sure"], mode: "any", caseInsensitive: false },
      { type: "regex", pattern: "^Hi \\(there\\)\\." },
      { type: "regex", pattern: "^\\d+" },
      { type: "is-json" },
      { type: "json-schema", schema: { type: "object", required: ["a"] } },
      { type: "similarity", expected: "hello", threshold: 0.9 },
      { type: "similarity", expected: "hello", maxDistance: 2 },
      { type: "equals", value: "42", trim: false },
      { type: "forbidden", phrases: ["sorry"] },
      { type: "contains", values: ["a", "b"], mode: "all", caseInsensitive: false },
    ]);
  });

  it("reports unsupported and unknown assertions with the test index, never dropping them silently", () => {
    expect(warnings).toEqual(expect.arrayContaining([
      expect.objectContaining({ test: 1, type: "javascript", message: expect.stringMatching(/not supported/) }),
      expect.objectContaining({ test: 1, type: "cost", message: expect.stringMatching(/not supported/) }),
      expect.objectContaining({ test: 2, type: "frobnicate", message: expect.stringMatching(/unknown assertion type/) }),
      expect.objectContaining({ test: 2, type: "similar", message: expect.stringMatching(/edit-distance/) }),
      expect.objectContaining({ test: 2, type: "not-contains", message: expect.stringMatching(/ignores case/) }),
    ]));
  });

  it("still imports a test whose assertions are all unsupported, flagged", () => {
    expect(cases[1].graders).toEqual([]);
    expect(cases[1].tags).toContain("needs-graders");
    expect(warnings).toContainEqual({ test: 1, message: "none of this test's assertions is supported; imported without graders" });
    expect(validateSuiteCases(cases).filter((p) => p.index === 1).map((p) => p.field)).toEqual(["graders"]);
  });

  it("produces cases that grade", async () => {
    const r = await gradeCase(cases[0], "Refunds within 30 DAYS.", { judge: async () => '{"score": 0.9, "reason": "ok"}' });
    expect(r.pass).toBe(true);
  });

  it.each([
    ["tests: []\n", []],
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
    ["prompts: [a]", /no `tests:` list/],
    ["tests: file://tests.csv", /points to a file/],
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

  it("warns about a var the prompt uses but the test lacks, and about list vars", () => {
    const r = parsePromptfooYaml("prompts: ['{{x}} {{y}}']\ntests:\n  - vars: { x: [1, 2] }\n");
    expect(r.warnings.map((w) => w.message)).toEqual([
      "vars.x is a list; promptfoo would expand it into several tests, Hearth keeps one case",
      "test has no assertions; imported without graders",
      "prompt uses {{y}} but the test has no such var; rendered empty",
    ]);
  });

  it("reports test fields it does not import and keeps test metadata", () => {
    const r = parsePromptfooYaml("tests:\n  - vars: { input: a }\n    options: { transform: output.trim() }\n    metadata: { team: ops }\n    assert: [{ type: is-json }]\n");
    expect(r.warnings).toEqual([{ test: 0, message: 'test field "options" is not imported' }]);
    expect(r.cases[0].metadata).toMatchObject({ testMetadata: { team: "ops" } });
  });

  it("applies defaultTest assertions and vars to every test", () => {
    const r = parsePromptfooYaml("defaultTest:\n  vars: { tier: 1 }\n  assert: [{ type: is-json }]\ntests:\n  - vars: { input: a }\n");
    expect(r.cases[0].graders).toEqual([{ type: "is-json" }]);
    expect(r.cases[0].metadata).toMatchObject({ vars: { tier: 1, input: "a" } });
  });
});
