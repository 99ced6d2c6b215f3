// Exports cases as a promptfoo config, so a team can leave: each grader promptfoo can express with the
// same meaning becomes an assertion; the rest, and every Hearth-only field, travel under the test's
// metadata.hearth, which Hearth's importer reads back into identical cases.
import { stringify as toYaml } from "yaml";
import type { EvalCase, GraderSpec } from "../case";
import { canonicalJson } from "../hash";
import { mapPromptfooAssertion, withoutDefaults } from "./promptfoo-yaml";

/** The assertion for a grader, or undefined when promptfoo cannot express it with Hearth's meaning. */
function toAssertion(g: GraderSpec): Record<string, unknown> | undefined {
  const extras = { ...(g.weight !== undefined ? { weight: g.weight } : {}), ...(g.metricName ? { metric: g.metricName } : {}) };
  const not = g.negate ? "not-" : "";
  let a: Record<string, unknown> | undefined;
  switch (g.type) {
    case "equals":
      if (g.value === undefined) return undefined;
      a = g.json ? { type: `${not}equals`, value: JSON.parse(g.value) } : { type: `${not}equals`, value: g.value };
      break;
    case "contains": {
      const i = g.caseInsensitive ? "i" : "";
      a = g.values.length === 1 && (g.mode ?? "all") === "all" ? { type: `${not}${i}contains`, value: g.values[0] } : { type: `${not}${i}contains-${g.mode ?? "all"}`, value: g.values };
      break;
    }
    case "regex":
      if (g.flags) return undefined;
      a = { type: `${not}regex`, value: g.pattern };
      break;
    case "is-json":
      a = { type: `${not}is-json` };
      break;
    case "json-schema":
      a = { type: `${not}is-json`, value: g.schema };
      break;
    case "similarity":
      if (g.maxDistance === undefined) return undefined;
      a = { type: `${not}levenshtein`, value: g.expected, threshold: g.maxDistance };
      break;
    case "rubric":
      a = { type: `${not}llm-rubric`, value: g.rubric, ...(g.threshold !== undefined ? { threshold: g.threshold } : {}) };
      break;
    case "group": {
      const children = g.graders.map(toAssertion);
      if (children.some((c) => c === undefined)) return undefined;
      a = { type: "assert-set", assert: children, ...(g.threshold !== undefined ? { threshold: g.threshold } : {}) };
      break;
    }
    default:
      return undefined;
  }
  const assertion = { ...a, ...extras };
  const back = mapPromptfooAssertion(assertion);
  return back && canonicalJson(withoutDefaults(back)) === canonicalJson(withoutDefaults(g)) ? assertion : undefined;
}

function looksLikeChat(text: string): boolean {
  return text.trimStart().startsWith("[");
}

export function toPromptfooTest(c: EvalCase): Record<string, unknown> {
  const assert: Record<string, unknown>[] = [];
  const extraGraders: { at: number; grader: GraderSpec }[] = [];
  c.graders.forEach((g, at) => {
    const a = toAssertion(g);
    if (a) assert.push(a);
    else extraGraders.push({ at, grader: g });
  });
  const { input, ...rest } = c;
  const hearth: Record<string, unknown> = { ...rest, ...(extraGraders.length ? { extraGraders } : {}) };
  if (typeof input !== "string" || looksLikeChat(input)) hearth.input = input;
  // promptfoo's own rule matches Hearth's when every grader must pass; other rules live in metadata.hearth.
  const threshold = c.scoring === "mean-score" && c.threshold !== undefined ? { threshold: c.threshold } : {};
  return {
    description: c.id,
    vars: { input: typeof input === "string" ? input : JSON.stringify(input) },
    ...(assert.length ? { assert } : {}),
    ...threshold,
    metadata: { hearth },
  };
}

export function toPromptfooYaml(cases: readonly EvalCase[], description?: string): string {
  const config = { ...(description ? { description } : {}), prompts: ["{{input}}"], tests: cases.map(toPromptfooTest) };
  return toYaml(config, { lineWidth: 0, aliasDuplicateObjects: false });
}
