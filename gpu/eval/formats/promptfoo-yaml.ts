// Imports a promptfoo-style YAML config (`prompts:` and `tests:`). Assertions that have a Hearth
// grader are mapped; the rest (javascript, python, cost, latency, ...) are never executed and are
// reported in `warnings`, so nothing disappears silently.
import { parse as parseYaml } from "yaml";
import type { EvalCase, GraderSpec } from "../case";
import { canonicalJson } from "../hash";
import { checkImportSize } from "./limits";
import { slugify, uniqueIds } from "./slug";

export interface PromptfooWarning {
  /** 0-based index in `tests`, or -1 for the file as a whole. */
  test: number;
  /** The assertion type concerned, when there is one. */
  type?: string;
  message: string;
}

export interface PromptfooImport {
  cases: EvalCase[];
  warnings: PromptfooWarning[];
  /** Problems that stopped the import (or a test) altogether. */
  errors: string[];
}

type Assert = { type?: unknown; value?: unknown; threshold?: unknown; weight?: unknown };

const UNSUPPORTED = new Set([
  "javascript", "python", "webhook", "cost", "latency", "perplexity", "perplexity-score", "contains-json",
  "is-valid-openai-function-call", "is-valid-openai-tools-call", "model-graded-closedqa", "model-graded-factuality",
  "factuality", "answer-relevance", "context-faithfulness", "context-recall", "context-relevance", "rouge-n", "bleu",
  "classifier", "moderation", "select-best", "assert-set", "is-sql", "contains-sql", "is-xml", "contains-xml",
  "g-eval", "guardrails", "is-refusal", "trace-span-count", "finish-reason",
]);

export function parsePromptfooYaml(text: string): PromptfooImport {
  const warnings: PromptfooWarning[] = [];
  const errors: string[] = [];
  const cases: EvalCase[] = [];
  const sizeProblem = checkImportSize(text);
  if (sizeProblem) return { cases, warnings, errors: [sizeProblem] };

  let doc: unknown;
  try {
    // maxAliasCount bounds "billion laughs" alias expansion.
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (e) {
    return { cases, warnings, errors: [`not valid YAML: ${(e as Error).message}`] };
  }
  if (!isRecord(doc)) return { cases, warnings, errors: ["expected a YAML mapping with a `tests:` list"] };
  if (!Array.isArray(doc.tests)) {
    return { cases, warnings, errors: [typeof doc.tests === "string" ? "`tests:` points to a file; inline the tests to import them" : "no `tests:` list found"] };
  }

  const template = pickPrompt(doc.prompts, warnings);
  const defaults = isRecord(doc.defaultTest) ? doc.defaultTest : {};
  const defaultVars = isRecord(defaults.vars) ? defaults.vars : {};
  const defaultAsserts = Array.isArray(defaults.assert) ? (defaults.assert as unknown[]) : [];
  const unique = uniqueIds();

  doc.tests.forEach((test, index) => {
    if (!isRecord(test)) {
      errors.push(`tests[${index}] is not a mapping`);
      return;
    }
    const vars = { ...defaultVars, ...(isRecord(test.vars) ? test.vars : {}) };
    for (const [name, value] of Object.entries(vars)) {
      if (Array.isArray(value)) warnings.push({ test: index, message: `vars.${name} is a list; promptfoo would expand it into several tests, Hearth keeps one case` });
    }
    for (const key of Object.keys(test)) {
      if (!["description", "vars", "assert", "threshold", "metadata"].includes(key)) {
        warnings.push({ test: index, message: `test field "${key}" is not imported` });
      }
    }
    const description = typeof test.description === "string" ? test.description : undefined;
    const graders: GraderSpec[] = [];
    const asserts = [...defaultAsserts, ...(Array.isArray(test.assert) ? test.assert : [])];
    for (const a of asserts) {
      const mapped = isRecord(a) ? mapAssert(a as Assert, index, warnings) : undefined;
      if (!isRecord(a)) warnings.push({ test: index, message: "an assertion is not a mapping; skipped" });
      if (mapped) graders.push(mapped);
    }
    const tags: string[] = [];
    if (graders.length === 0) {
      tags.push("needs-graders");
      warnings.push({ test: index, message: asserts.length === 0
        ? "test has no assertions; imported without graders"
        : "none of this test's assertions is supported; imported without graders" });
    }
    const evalCase: EvalCase = {
      id: unique(slugify(description, `test-${index + 1}`)),
      input: renderInput(template, vars, index, warnings),
      graders,
      tags,
      clauses: [],
      metadata: {
        source: "promptfoo",
        vars,
        ...(description !== undefined ? { description } : {}),
        ...(isRecord(test.metadata) ? { testMetadata: test.metadata } : {}),
      },
    };
    if (typeof test.threshold === "number" && test.threshold >= 0 && test.threshold <= 1) evalCase.threshold = test.threshold;
    cases.push(evalCase);
  });
  return { cases, warnings, errors };
}

function pickPrompt(prompts: unknown, warnings: PromptfooWarning[]): string | undefined {
  const list = Array.isArray(prompts) ? prompts : prompts === undefined ? [] : [prompts];
  const texts = list.map((p) => (typeof p === "string" ? p : isRecord(p) && typeof p.raw === "string" ? p.raw : undefined));
  const usable = texts.filter((t): t is string => t !== undefined && !t.startsWith("file://"));
  if (usable.length < list.length) warnings.push({ test: -1, message: "prompts given as files or objects without `raw` are not imported" });
  if (usable.length > 1) warnings.push({ test: -1, message: `${usable.length} prompts found; only the first is used to render inputs` });
  return usable[0];
}

function renderInput(template: string | undefined, vars: Record<string, unknown>, index: number, warnings: PromptfooWarning[]): string {
  if (template === undefined) {
    for (const key of ["input", "question", "prompt"]) if (typeof vars[key] === "string") return vars[key] as string;
    return canonicalJson(vars);
  }
  return template.replace(/\{\{\s*([A-Za-z_][\w.]*)\s*\}\}/g, (_m, name: string) => {
    if (!Object.hasOwn(vars, name)) {
      warnings.push({ test: index, message: `prompt uses {{${name}}} but the test has no such var; rendered empty` });
      return "";
    }
    const value = vars[name];
    return typeof value === "string" ? value : canonicalJson(value);
  });
}

function mapAssert(a: Assert, test: number, warnings: PromptfooWarning[]): GraderSpec | undefined {
  const type = typeof a.type === "string" ? a.type : "";
  const warn = (message: string) => warnings.push({ test, type, message });
  const common: { weight?: number; threshold?: number } = {};
  if (typeof a.weight === "number" && a.weight >= 0) common.weight = a.weight;
  const threshold = typeof a.threshold === "number" && a.threshold >= 0 && a.threshold <= 1 ? a.threshold : undefined;
  const text = a.value === undefined ? undefined : typeof a.value === "string" ? a.value : canonicalJson(a.value);
  const list = Array.isArray(a.value)
    ? a.value.map((v) => (typeof v === "string" ? v : canonicalJson(v)))
    : typeof a.value === "string" ? a.value.split(",").map((v) => v.trim()).filter(Boolean) : [];
  const needText = (): string | undefined => {
    if (text === undefined || text === "") warn(`"${type}" needs a value; skipped`);
    return text || undefined;
  };
  const needList = (): string[] | undefined => {
    if (list.length === 0) warn(`"${type}" needs a value; skipped`);
    return list.length ? list : undefined;
  };

  switch (type) {
    case "equals": {
      const value = needText();
      return value === undefined ? undefined : { type: "equals", value, trim: false, ...common };
    }
    case "contains":
    case "icontains": {
      const value = needText();
      return value === undefined ? undefined : { type: "contains", values: [value], caseInsensitive: type === "icontains", ...common };
    }
    case "contains-any":
    case "contains-all":
    case "icontains-any":
    case "icontains-all": {
      const values = needList();
      return values && { type: "contains", values, mode: type.endsWith("any") ? "any" : "all", caseInsensitive: type.startsWith("i"), ...common };
    }
    case "not-contains":
    case "not-icontains":
    case "not-contains-any":
    case "not-icontains-any": {
      const phrases = type.endsWith("any") ? needList() : needText() && [text!];
      if (phrases && !type.includes("icontains")) warn("mapped to a forbidden-phrases grader, which ignores case");
      return phrases ? { type: "forbidden", phrases, ...common } : undefined;
    }
    case "regex":
    case "not-regex": {
      const pattern = needText();
      return pattern === undefined ? undefined : { type: "regex", pattern, ...(type === "not-regex" ? { negate: true } : {}), ...common };
    }
    case "starts-with": {
      const prefix = needText();
      return prefix === undefined ? undefined : { type: "regex", pattern: `^${escapeRegex(prefix)}`, ...common };
    }
    case "is-json":
      return a.value === undefined ? { type: "is-json", ...common } : { type: "json-schema", schema: a.value, ...common };
    case "llm-rubric": {
      const rubric = needText();
      return rubric === undefined ? undefined : { type: "rubric", rubric, ...(threshold !== undefined ? { threshold } : {}), ...common };
    }
    case "similar": {
      const expected = needText();
      if (expected === undefined) return undefined;
      warn("promptfoo compares embeddings; Hearth imports this as edit-distance similarity");
      return { type: "similarity", expected, threshold: threshold ?? 0.75, ...common };
    }
    case "levenshtein": {
      const expected = needText();
      if (expected === undefined) return undefined;
      // promptfoo's levenshtein threshold is a maximum edit distance (default 5), not a share.
      const maxDistance = typeof a.threshold === "number" && a.threshold >= 0 ? Math.floor(a.threshold) : 5;
      return { type: "similarity", expected, maxDistance, ...common };
    }
    default:
      if (UNSUPPORTED.has(type) || type.startsWith("not-")) warn(`assertion type "${type}" is not supported and was not imported (Hearth never runs imported code)`);
      else warn(`unknown assertion type "${type || "(none)"}" was not imported`);
      return undefined;
  }
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
