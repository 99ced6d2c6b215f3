// Imports a promptfoo config (one YAML file, or a folder whose `file://` references resolve inside it).
// Every field is honoured with promptfoo's own semantics or reported as a note saying what Hearth did
// instead; notes that could change a verdict tag their case "needs-review". Imported code
// (`javascript`, `python`, `transform`, `file://*.js|py`, `!function`) is never run: not even parsed.
import { parse as parseYaml } from "yaml";
import { EvalCaseSchema, type ChatMessage, type EvalCase, type GraderSpec } from "../case";
import { canonicalJson } from "../hash";
import { checkJsonSchema } from "../json-schema";
import { checkRegexSafety } from "../regex-safety";
import { checkImportSize } from "./limits";
import { isRecord, tagCasesForReview, type ImportNote, type ImportResult } from "./report";
import { slugify, uniqueIds } from "./slug";
import { SourceFiles } from "./source-files";

type Json = unknown;
type Test = Record<string, unknown>;
type Note = (field: string, message: string, changesVerdict: boolean) => void;

const CODE_EXTENSIONS = /\.(js|cjs|mjs|ts|cts|mts|py|rb|go|sh)(:[\w.]+)?$/i;
const CONFIG_NAMES = ["promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json"];
/** Assertion types that need a model, a network call, code, or data Hearth does not record. */
const CODE_TYPES = new Set(["javascript", "python", "ruby", "webhook"]);
/** promptfoo ignores `threshold` on these; Hearth's graders would honour it, so it is not imported. */
const THRESHOLDLESS = new Set(["equals", "contains", "icontains", "contains-any", "icontains-any", "contains-all", "icontains-all", "regex", "starts-with", "is-json"]);
const TEST_FIELDS = new Set(["description", "vars", "assert", "threshold", "metadata", "options"]);
const MAX_EXPANDED_CASES = 20_000;
const MAX_REF_NODES = 200_000;
const HEARTH_KEY = "hearth";

/** The config file in a folder: the shallowest promptfooconfig.yaml (a zip often wraps one folder), else the only top-level YAML file. */
export function findPromptfooConfig(files: SourceFiles): string | undefined {
  const paths = files.paths();
  const depth = (p: string) => p.split("/").length;
  const configs = paths.filter((p) => CONFIG_NAMES.includes(p.split("/").pop()!)).sort((a, b) => depth(a) - depth(b));
  if (configs.length) return configs[0];
  const top = paths.filter((p) => !p.includes("/") && /\.(ya?ml)$/i.test(p));
  return top.length === 1 ? top[0] : paths.length === 1 ? paths[0] : undefined;
}

/** Imports a single promptfoo YAML text (file:// references then cannot resolve and are reported). */
export function parsePromptfooYaml(text: string, name = "promptfooconfig.yaml"): ImportResult {
  return importPromptfoo(SourceFiles.single(name, text), name);
}

export function importPromptfoo(files: SourceFiles, entry = findPromptfooConfig(files)): ImportResult {
  const result: ImportResult = { cases: [], notes: [], errors: [] };
  if (!entry) {
    result.errors.push("no promptfoo config found: put promptfooconfig.yaml at the top of the folder");
    return result;
  }
  const importer = new PromptfooImporter(files, entry, result);
  importer.run();
  tagCasesForReview(result);
  return result;
}

class PromptfooImporter {
  private readonly unique = uniqueIds();
  /** Where each assertion object was written, so notes name the source field, not a merged index. */
  private readonly origin = new WeakMap<object, string>();

  private remember(asserts: unknown, field: string) {
    if (Array.isArray(asserts)) asserts.forEach((a, k) => isRecord(a) && !this.origin.has(a) && this.origin.set(a, `${field}[${k}]`));
  }
  private caseId: string | undefined;

  constructor(private readonly files: SourceFiles, private readonly entry: string, private readonly result: ImportResult) {}

  private note(field: string, message: string, changesVerdict: boolean, caseId = this.caseId) {
    const n: ImportNote = { file: this.entry, field, message, changesVerdict };
    if (caseId) n.caseId = caseId;
    this.result.notes.push(n);
  }

  private loadYamlFile(path: string): Json | { error: string } {
    const text = this.files.read(path) ?? "";
    const size = checkImportSize(text);
    if (size) return { error: size };
    try {
      // maxAliasCount bounds "billion laughs" alias expansion; custom tags (`!function`) are not resolved.
      return path.endsWith(".json") ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100, customTags: [], logLevel: "error" });
    } catch (e) {
      return { error: `${path} is not valid ${path.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message}` };
    }
  }

  run() {
    const loaded = this.loadYamlFile(this.entry);
    if (isRecord(loaded) && typeof loaded.error === "string" && Object.keys(loaded).length === 1) return void this.result.errors.push(loaded.error);
    if (!isRecord(loaded)) return void this.result.errors.push("expected a YAML mapping with a `tests:` list");
    if (containsCustomTag(this.files.read(this.entry) ?? "")) {
      this.note("(file)", "a `!function` or other custom YAML tag is code; Hearth does not run it and read it as plain data", true);
    }
    const refs = resolveRefs(loaded, loaded, 0);
    for (const problem of refs.problems) this.note(problem.field, problem.message, true);
    const doc = refs.value as Record<string, unknown>;

    for (const key of Object.keys(doc)) {
      if (["prompts", "tests", "defaultTest", "scenarios", "assertionTemplates"].includes(key)) continue;
      if (key === "derivedMetrics") this.reportDerivedMetrics(doc.derivedMetrics);
      else if (key === "providers" || key === "targets") this.note(key, "not imported: a Hearth run grades the model or endpoint you choose when you launch it", false);
      else if (key === "description") this.note(key, "not imported: name the suite in Hearth", false);
      else if (key === "nunjucksFilters" || key === "extensions") this.note(key, "code; never run. Templates that use these filters are reported where they occur", true);
      else this.note(key, "not imported: this setting has no meaning for a Hearth suite", false);
    }

    const prompts = this.readPrompts(doc.prompts);
    const defaults = this.readDefaultTest(doc.defaultTest);
    this.remember(defaults.assert, "defaultTest.assert");
    const tests: { test: Test; field: string }[] = [];
    this.readTests(doc.tests, "tests", this.entry, tests);
    this.readScenarios(doc.scenarios, tests);
    if (!tests.length) {
      if (!this.result.errors.length) this.result.errors.push("no tests found (`tests:` or `scenarios:`)");
      return;
    }

    for (const { test, field } of tests) {
      this.remember(test.assert, `${field}.assert`);
      const expansions = expandVarLists(mergeDefaults(defaults, test));
      if (!expansions) {
        this.result.errors.push(`${field}: its list vars expand to more than ${MAX_EXPANDED_CASES} cases; split it`);
        return;
      }
      for (const expanded of expansions) {
        for (const prompt of prompts) {
          if (this.result.cases.length >= MAX_EXPANDED_CASES) {
            this.result.errors.push(`the config expands to more than ${MAX_EXPANDED_CASES} cases (prompts x tests x var lists); split it`);
            return;
          }
          this.importTest(expanded, field, prompt, prompts.length);
        }
      }
    }
  }

  private reportDerivedMetrics(value: unknown) {
    const list = Array.isArray(value) ? value : [];
    if (!list.length) return this.note("derivedMetrics", "not a list; ignored", false);
    list.forEach((m, k) => {
      const name = isRecord(m) && typeof m.name === "string" ? m.name : `#${k + 1}`;
      this.note(`derivedMetrics[${k}]`, `derived metric "${name}" is not computed: its formula is an expression or code that Hearth does not evaluate; no case verdict depends on it`, false);
    });
  }

  private readPrompts(raw: unknown): { text: string; label: string }[] {
    if (raw === undefined) return [{ text: "", label: "" }];
    const list = Array.isArray(raw) ? raw : [raw];
    const out: { text: string; label: string }[] = [];
    list.forEach((p, k) => {
      const field = `prompts[${k}]`;
      let text: string | undefined;
      let label = "";
      if (typeof p === "string") text = p;
      else if (isRecord(p)) {
        if (typeof p.raw === "string") text = p.raw;
        else if (typeof p.id === "string") text = p.id;
        label = typeof p.label === "string" ? p.label : "";
        for (const key of Object.keys(p)) if (!["raw", "id", "label"].includes(key)) this.note(`${field}.${key}`, "not imported", false);
      }
      if (text?.startsWith("file://")) {
        if (CODE_EXTENSIONS.test(text)) {
          this.note(field, "a prompt function is code and is never run; this prompt is not imported", true);
          return;
        }
        const resolved = this.files.resolve(this.entry, text);
        if ("error" in resolved) return this.note(field, `${resolved.error}; this prompt is not imported`, true);
        const content = this.files.read(resolved.path)!;
        // promptfoo splits a text prompt file into several prompts at each "---".
        const parts = /\.json$/i.test(resolved.path) ? [content] : content.split("---").map((p) => p.trim()).filter(Boolean);
        parts.forEach((part, j) => out.push({ text: part, label: label || (list.length > 1 || parts.length > 1 ? `p${k + 1}${parts.length > 1 ? `-${j + 1}` : ""}` : "") }));
        return;
      }
      if (text === undefined) return this.note(field, "not a prompt Hearth can read; not imported", true);
      out.push({ text, label: label || (list.length > 1 ? `p${k + 1}` : "") });
    });
    return out.length ? out : [{ text: "", label: "" }];
  }

  private readDefaultTest(raw: unknown): Test {
    if (raw === undefined) return {};
    if (typeof raw === "string" && raw.startsWith("file://")) {
      const resolved = this.files.resolve(this.entry, raw);
      if ("error" in resolved) {
        this.note("defaultTest", `${resolved.error}; defaults not applied`, true);
        return {};
      }
      const loaded = this.loadYamlFile(resolved.path);
      return isRecord(loaded) ? loaded : {};
    }
    if (!isRecord(raw)) {
      this.note("defaultTest", "not a mapping; ignored", true);
      return {};
    }
    return raw;
  }

  private readTests(raw: unknown, field: string, fromFile: string, out: { test: Test; field: string }[]) {
    if (raw === undefined) return;
    const list = Array.isArray(raw) ? raw : [raw];
    list.forEach((t, k) => {
      const at = Array.isArray(raw) ? `${field}[${k}]` : field;
      if (typeof t === "string") {
        if (!t.startsWith("file://") && !/\.(ya?ml|json)$/i.test(t)) return this.note(at, "not a test; ignored", true);
        if (!/\.(ya?ml|json)$/i.test(t)) return this.note(at, `tests from ${t.split(".").pop()} files are not imported (YAML and JSON test files are)`, true);
        const resolved = this.files.resolve(fromFile, t);
        if ("error" in resolved) return this.result.errors.push(`${at}: ${resolved.error}`);
        const loaded = this.loadYamlFile(resolved.path);
        if (isRecord(loaded) && typeof loaded.error === "string") return this.result.errors.push(`${at}: ${loaded.error}`);
        return this.readTests(loaded, `${resolved.path}`, resolved.path, out);
      }
      if (!isRecord(t)) return this.result.errors.push(`${at} is not a mapping`);
      out.push({ test: t, field: at });
    });
  }

  /** promptfoo's scenarios: every `config` entry crossed with every test of the scenario. */
  private readScenarios(raw: unknown, out: { test: Test; field: string }[]) {
    if (raw === undefined) return;
    if (!Array.isArray(raw)) return this.note("scenarios", "not a list; ignored", true);
    raw.forEach((s, k) => {
      const at = `scenarios[${k}]`;
      if (!isRecord(s)) return this.note(at, "not a mapping; ignored", true);
      const configs = Array.isArray(s.config) ? s.config.filter(isRecord) : [{}];
      const tests: { test: Test; field: string }[] = [];
      this.readTests(s.tests, `${at}.tests`, this.entry, tests);
      for (const key of Object.keys(s)) if (!["config", "tests", "description"].includes(key)) this.note(`${at}.${key}`, "not imported", false);
      configs.forEach((config, c) => {
        this.remember(config.assert, `${at}.config[${c}].assert`);
        for (const t of tests) this.remember(t.test.assert, `${t.field}.assert`);
        for (const { test, field } of tests) {
          const merged: Test = { ...config, ...test };
          merged.vars = { ...(isRecord(config.vars) ? config.vars : {}), ...(isRecord(test.vars) ? test.vars : {}) };
          merged.options = { ...(isRecord(config.options) ? config.options : {}), ...(isRecord(test.options) ? test.options : {}) };
          merged.assert = [...(Array.isArray(config.assert) ? config.assert : []), ...(Array.isArray(test.assert) ? test.assert : [])];
          if (config.metadata !== undefined || test.metadata !== undefined) merged.metadata = { ...(isRecord(config.metadata) ? config.metadata : {}), ...(isRecord(test.metadata) ? test.metadata : {}) };
          if (typeof config.description === "string" || typeof test.description === "string") {
            merged.description = [config.description, test.description].filter((d) => typeof d === "string").join(" - ");
          }
          out.push({ test: merged, field: `${field} x ${at}.config[${c}]` });
        }
      });
    });
  }

  private importTest(test: Test, field: string, prompt: { text: string; label: string }, promptCount: number) {
    const description = typeof test.description === "string" ? test.description : undefined;
    const hearthRecord = isRecord(test.metadata) ? test.metadata[HEARTH_KEY] : undefined;
    const hearthId = isRecord(hearthRecord) && typeof hearthRecord.id === "string" ? hearthRecord.id : undefined;
    const baseId = hearthId ?? slugify(description, `test-${this.result.cases.length + 1}`);
    this.caseId = this.unique(prompt.label && promptCount > 1 ? `${baseId}-${prompt.label}`.slice(0, 100) : baseId);
    if (test.vars !== undefined && !isRecord(test.vars)) this.note(`${field}.vars`, "vars from a file or list are not imported; the test's prompt renders without them", true);
    const vars = this.loadVars(isRecord(test.vars) ? test.vars : {}, `${field}.vars`);
    const options = isRecord(test.options) ? test.options : {};

    for (const key of Object.keys(test)) {
      if (TEST_FIELDS.has(key)) continue;
      if (key === "provider" || key === "providers") this.note(`${field}.${key}`, "not imported: the run's model or endpoint answers every case", true);
      else if (key === "assertScoringFunction") this.note(`${field}.${key}`, "a scoring function is code and is never run; the case uses promptfoo's default rule (every assertion passes, or the mean score reaches the threshold)", true);
      else this.note(`${field}.${key}`, "not imported", false);
    }
    let outputTransformed = false;
    for (const [key, value] of Object.entries(options)) {
      const at = `${field}.options.${key}`;
      if (key === "transform" || key === "postprocess") {
        outputTransformed = true;
        this.note(at, "a transform is code and is never run; every assertion of this case would grade the transformed output, so none is imported", true);
      } else if (key === "prefix" || key === "suffix") {
        if (typeof value !== "string") this.note(at, "not a string; ignored", true);
      } else if (key === "provider" || key === "rubricPrompt") this.note(at, "not imported: Hearth's rubric judge and prompt grade model-graded assertions", true);
      else this.note(at, "not imported", false);
    }

    const rendered = this.renderPrompt(prompt.text, vars, options, `${field}`);
    const graders: GraderSpec[] = [];
    const asserts = Array.isArray(test.assert) ? test.assert : test.assert === undefined ? [] : [test.assert];
    asserts.forEach((a, k) => {
      const at = (isRecord(a) && this.origin.get(a)) || `${field}.assert[${k}]`;
      if (outputTransformed) return;
      const mapped = this.mapAssertion(a, at, vars, false);
      if (mapped) graders.push(mapped);
    });
    if (asserts.length === 0) this.note(`${field}.assert`, "promptfoo passes a test without assertions; Hearth needs a grader, so the case is tagged needs-graders", true);

    const threshold = typeof test.threshold === "number" && test.threshold >= 0 && test.threshold <= 1 ? test.threshold : undefined;
    if (test.threshold !== undefined && threshold === undefined) this.note(`${field}.threshold`, "not a number between 0 and 1; ignored", true);
    const metadata: Record<string, unknown> = { source: "promptfoo", vars };
    if (description !== undefined) metadata.description = description;
    const testMetadata = isRecord(test.metadata) ? { ...test.metadata } : undefined;
    const hearth = testMetadata?.[HEARTH_KEY];
    if (testMetadata) delete testMetadata[HEARTH_KEY];
    if (testMetadata && Object.keys(testMetadata).length) metadata.testMetadata = testMetadata;

    let evalCase: EvalCase = {
      id: this.caseId,
      input: rendered,
      graders,
      tags: graders.length ? [] : ["needs-graders"],
      clauses: [],
      scoring: "mean-score",
      ...(threshold !== undefined ? { threshold } : {}),
      metadata,
    };
    if (hearth !== undefined) evalCase = this.restoreHearthCase(evalCase, hearth, `${field}.metadata.${HEARTH_KEY}`);
    this.result.cases.push(evalCase);
    this.caseId = undefined;
  }

  /** A test exported by Hearth carries its case under metadata.hearth: restore it when the assertions still agree. */
  private restoreHearthCase(imported: EvalCase, hearth: unknown, field: string): EvalCase {
    if (!isRecord(hearth) || !Array.isArray(hearth.graders)) {
      this.note(field, "not a Hearth case record; kept as metadata", false);
      return { ...imported, metadata: { ...imported.metadata, hearth } };
    }
    const extra = Array.isArray(hearth.extraGraders) ? hearth.extraGraders : [];
    const merged: unknown[] = [...imported.graders];
    for (const e of extra) if (isRecord(e) && typeof e.at === "number") merged.splice(e.at, 0, e.grader);
    const { extraGraders: _extra, ...rest } = hearth;
    const candidate = EvalCaseSchema.safeParse({ ...rest, id: imported.id, input: hearth.input ?? imported.input });
    if (!candidate.success || canonicalJson(merged.map(withoutDefaults)) !== canonicalJson(candidate.data.graders.map(withoutDefaults))) {
      this.note(field, "the assertions were edited after Hearth exported this test; imported from the assertions, Hearth's record kept as metadata", false);
      return { ...imported, metadata: { ...imported.metadata, hearth } };
    }
    // Notes made while mapping this test describe a case that came from Hearth unchanged: drop them.
    const caseId = imported.id;
    this.result.notes = this.result.notes.filter((n) => n.caseId !== caseId);
    return candidate.data;
  }

  /** promptfoo loads `file://` vars as the file's text (parsed for .json/.yaml); code files are never run. */
  private loadVars(vars: Record<string, unknown>, field: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(vars)) {
      if (typeof value === "string" && value.startsWith("file://")) {
        if (CODE_EXTENSIONS.test(value)) {
          this.note(`${field}.${name}`, "a var computed by code is never run; the reference text is used as the value", true);
          out[name] = value;
          continue;
        }
        const resolved = this.files.resolve(this.entry, value);
        if ("error" in resolved) {
          this.note(`${field}.${name}`, `${resolved.error}; the reference text is used as the value`, true);
          out[name] = value;
          continue;
        }
        const text = this.files.read(resolved.path)!;
        if (/\.(json|ya?ml)$/i.test(resolved.path)) {
          const loaded = this.loadYamlFile(resolved.path);
          out[name] = isRecord(loaded) && typeof loaded.error === "string" ? text : loaded;
        } else out[name] = text;
      } else out[name] = value;
    }
    return out;
  }

  private renderPrompt(template: string, vars: Record<string, unknown>, options: Record<string, unknown>, field: string): string | ChatMessage[] {
    const prefix = typeof options.prefix === "string" ? options.prefix : "";
    const suffix = typeof options.suffix === "string" ? options.suffix : "";
    if (template === "") {
      const base = ["input", "question", "prompt"].map((k) => vars[k]).find((v) => typeof v === "string") as string | undefined;
      this.note(`${field}`, "the config has no prompts; the case input is the test's input/question/prompt var (or all vars as JSON)", false);
      return prefix + (base ?? canonicalJson(vars)) + suffix;
    }
    const text = prefix + this.render(template, vars, `${field} (prompt)`) + suffix;
    const chat = parseChat(text);
    return chat ?? text;
  }

  /** Nunjucks `{{ name }}` / `{{ name.path }}` substitution; anything more is reported, not evaluated. */
  private render(template: string, vars: Record<string, unknown>, field: string): string {
    if (/\{%|\{#/.test(template)) this.note(field, "Nunjucks tags ({% %}) are not evaluated; the text is kept as written", true);
    return template.replace(/\{\{\s*([^{}]*?)\s*\}\}/g, (whole, expr: string) => {
      if (!/^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*$/.test(expr)) {
        this.note(field, `the template expression {{ ${expr} }} is not evaluated; kept as written`, true);
        return whole;
      }
      let value: unknown = vars;
      for (const part of expr.split(".")) value = isRecord(value) && Object.hasOwn(value, part) ? value[part] : undefined;
      // Nunjucks prints values with JavaScript's String(): undefined and null as "", an object as "[object Object]".
      return value === undefined || value === null ? "" : String(value);
    });
  }

  private renderValue(value: unknown, vars: Record<string, unknown>, field: string): unknown {
    if (typeof value === "string") return this.render(value, vars, field);
    if (Array.isArray(value)) return value.map((v) => this.renderValue(v, vars, field));
    return value;
  }

  /** Loads an assertion value given as `file://`; code files are never run. */
  private loadValue(value: unknown, field: string): { value: unknown } | undefined {
    if (typeof value !== "string" || !value.startsWith("file://")) return { value };
    if (CODE_EXTENSIONS.test(value)) {
      this.note(field, "a value computed by code is never run; the assertion is not imported", true);
      return undefined;
    }
    const resolved = this.files.resolve(this.entry, value);
    if ("error" in resolved) {
      this.note(field, `${resolved.error}; the assertion is not imported`, true);
      return undefined;
    }
    if (/\.(json|ya?ml)$/i.test(resolved.path)) {
      const loaded = this.loadYamlFile(resolved.path);
      if (isRecord(loaded) && typeof loaded.error === "string" && Object.keys(loaded).length === 1) {
        this.note(field, `${loaded.error}; the assertion is not imported`, true);
        return undefined;
      }
      return { value: loaded };
    }
    return { value: this.files.read(resolved.path) };
  }

  mapAssertion(a: unknown, at: string, vars: Record<string, unknown>, inSet: boolean): GraderSpec | undefined {
    if (!isRecord(a)) {
      this.note(at, "not a mapping; not imported", true);
      return undefined;
    }
    const type = typeof a.type === "string" ? a.type : "";
    const drop = (message: string, field = at) => {
      this.note(field, message, true);
      return undefined;
    };
    for (const key of Object.keys(a)) {
      if (["type", "value", "weight", "threshold", "metric", "transform", "assert", "config", "provider", "rubricPrompt", "contextTransform", "description"].includes(key)) continue;
      this.note(`${at}.${key}`, "not imported", false);
    }
    if (a.transform !== undefined) return drop(`a transform is code and is never run; this "${type}" assertion would grade the transformed output, so it is not imported`, `${at}.transform`);
    if (a.contextTransform !== undefined) return drop("a context transform is code and is never run; the assertion is not imported", `${at}.contextTransform`);
    if (a.provider !== undefined || a.rubricPrompt !== undefined) this.note(`${at}.${a.provider !== undefined ? "provider" : "rubricPrompt"}`, "not imported: Hearth's judge grades model-graded assertions", true);
    if (a.config !== undefined) this.note(`${at}.config`, "not imported", true);

    const common: { weight?: number; metricName?: string } = {};
    if (a.weight !== undefined) {
      if (typeof a.weight === "number" && Number.isFinite(a.weight) && a.weight >= 0) common.weight = a.weight;
      else this.note(`${at}.weight`, "not a non-negative number; the default weight 1 is used", true);
    }
    if (a.metric !== undefined) {
      if (typeof a.metric === "string" && a.metric.length > 0 && a.metric.length <= 100) {
        common.metricName = a.metric;
        this.note(`${at}.metric`, "kept on the grader; Hearth's run summary does not yet total scores per metric name", false);
      } else this.note(`${at}.metric`, "not a name of 1-100 characters; ignored", false);
    }

    if (type === "assert-set") {
      if (inSet) return drop("an assert-set inside an assert-set is not imported");
      const children = Array.isArray(a.assert) ? a.assert : [];
      const graders = children.map((c, k) => this.mapAssertion(c, `${at}.assert[${k}]`, vars, true)).filter((g): g is GraderSpec => g !== undefined) as Extract<GraderSpec, { type: "group" }>["graders"];
      if (!graders.length) return drop("an assert-set with no importable assertion is not imported");
      const threshold = typeof a.threshold === "number" && a.threshold >= 0 && a.threshold <= 1 ? a.threshold : undefined;
      if (a.threshold !== undefined && threshold === undefined) this.note(`${at}.threshold`, "not a number between 0 and 1; ignored", true);
      return { type: "group", graders, ...(threshold !== undefined ? { threshold } : {}), ...common };
    }

    const negate = type.startsWith("not-");
    const base = negate ? type.slice(4) : type;
    const neg = negate ? { negate: true as const } : {};
    if (CODE_TYPES.has(base)) return drop(`"${type}" is code and is never run; the assertion is not imported`);
    const loaded = this.loadValue(a.value, `${at}.value`);
    if (!loaded) return undefined;
    const value = this.renderValue(loaded.value, vars, `${at}.value`);
    if (a.threshold !== undefined && THRESHOLDLESS.has(base)) this.note(`${at}.threshold`, `promptfoo ignores threshold on "${base}"; not imported`, false);
    const text = typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
    const needText = (): string | undefined => {
      if (text === undefined || text === "") this.note(`${at}.value`, `"${type}" needs a string value; promptfoo fails it, and it is not imported`, true);
      return text || undefined;
    };
    const list = Array.isArray(value) ? value.map((v) => String(v)) : typeof value === "string" ? parseCommaList(value) : undefined;
    const needList = (): string[] | undefined => {
      if (list === undefined || list.length === 0 || list.some((v) => v === "")) this.note(`${at}.value`, `"${type}" needs a list of non-empty values; not imported`, true);
      return list?.length && list.every((v) => v !== "") ? list : undefined;
    };

    switch (base) {
      case "equals": {
        if (isRecord(value) || Array.isArray(value)) return { type: "equals", value: JSON.stringify(value), json: true, ...neg, ...common };
        if (value === undefined || value === null) return drop(`"${type}" needs a value; not imported`);
        return { type: "equals", value: String(value), trim: false, ...neg, ...common };
      }
      case "contains":
      case "icontains": {
        const v = needText();
        return v === undefined ? undefined : { type: "contains", values: [v], caseInsensitive: base === "icontains", ...neg, ...common };
      }
      case "contains-any":
      case "contains-all":
      case "icontains-any":
      case "icontains-all": {
        const values = needList();
        return values && { type: "contains", values, mode: base.endsWith("any") ? "any" : "all", caseInsensitive: base.startsWith("i"), ...neg, ...common };
      }
      case "regex": {
        const pattern = needText();
        if (pattern === undefined) return undefined;
        const problem = checkRegexSafety(pattern, "");
        if (problem) this.note(`${at}.value`, `Hearth refuses this regex (${problem}); the grader fails every output until it is fixed`, true);
        return { type: "regex", pattern, ...neg, ...common };
      }
      case "starts-with": {
        const prefix = needText();
        return prefix === undefined ? undefined : { type: "regex", pattern: `^${escapeRegex(prefix)}`, ...neg, ...common };
      }
      case "is-json": {
        if (value === undefined || value === null || value === "") return { type: "is-json", fence: false, ...neg, ...common };
        let schema = value;
        if (typeof value === "string") {
          try {
            schema = parseYaml(value, { maxAliasCount: 100, customTags: [], logLevel: "error" });
          } catch (e) {
            return drop(`the schema is not valid YAML or JSON (${(e as Error).message}); not imported`, `${at}.value`);
          }
        }
        const problems = checkJsonSchema(schema);
        if (problems.length) this.note(`${at}.value`, `Hearth's JSON Schema validator does not support this schema (${problems.slice(0, 3).join("; ")}); the grader fails until it is changed`, true);
        return { type: "json-schema", schema, fence: false, ...neg, ...common };
      }
      case "levenshtein": {
        const expected = needText();
        if (expected === undefined) return undefined;
        // distance <= threshold over whole numbers is distance <= floor(threshold).
        let maxDistance = 5;
        if (typeof a.threshold === "number" && a.threshold >= 0) maxDistance = Math.floor(a.threshold);
        else if (a.threshold !== undefined) this.note(`${at}.threshold`, "not a non-negative number; promptfoo's default 5 is used", true);
        // promptfoo scores 1 or 0 by the distance bound alone, on the untrimmed texts.
        return { type: "similarity", expected, maxDistance, binaryScore: true, trim: false, ...neg, ...common };
      }
      case "llm-rubric": {
        const rubric = needText();
        if (rubric === undefined) return undefined;
        const threshold = typeof a.threshold === "number" && a.threshold >= 0 && a.threshold <= 1 ? a.threshold : undefined;
        this.note(at, "graded by Hearth's rubric judge: its prompt, model and pass rule (score against threshold, default 0.5) differ from promptfoo's", true);
        return { type: "rubric", rubric, ...(threshold !== undefined ? { threshold } : {}), ...neg, ...common };
      }
      case "similar": {
        const expected = needText();
        if (expected === undefined) return undefined;
        const threshold = typeof a.threshold === "number" && a.threshold >= 0 && a.threshold <= 1 ? a.threshold : 0.75;
        this.note(at, "promptfoo compares embeddings; Hearth grades this as edit-distance similarity with the same threshold", true);
        return { type: "similarity", expected, threshold, ...neg, ...common };
      }
      case "":
        return drop("an assertion without a type is not imported");
      default:
        return drop(`"${type}" has no Hearth grader with promptfoo's meaning; not imported`);
    }
  }
}

/** How a promptfoo assertion imports on its own (no vars, no files): for the exporter's round-trip check. */
export function mapPromptfooAssertion(a: unknown): GraderSpec | undefined {
  const scratch: ImportResult = { cases: [], notes: [], errors: [] };
  return new PromptfooImporter(SourceFiles.single("x.yaml", ""), "x.yaml", scratch).mapAssertion(a, "a", {}, false);
}

const GRADER_DEFAULTS: Record<string, unknown> = { caseInsensitive: false, negate: false, mode: "all", fence: true, binaryScore: false, json: false, weight: 1 };

/** A grader with fields at their default values removed, so two specs that grade alike compare equal. */
export function withoutDefaults(g: unknown): unknown {
  if (!isRecord(g)) return g;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(g)) {
    if (k === "graders" && Array.isArray(v)) out[k] = v.map(withoutDefaults);
    else if (!(k in GRADER_DEFAULTS && GRADER_DEFAULTS[k] === v) && !(k === "trim" && v === true)) out[k] = v;
  }
  return out;
}

/** promptfoo's comma-separated list: fields are trimmed; "quoted, fields" keep their commas ("" and \" escape a quote). */
export function parseCommaList(value: string): string[] | undefined {
  const out: string[] = [];
  let i = 0;
  const skip = (chars: string) => {
    while (i < value.length && chars.includes(value[i])) i++;
  };
  while (i < value.length) {
    skip(" \t\n\r,");
    if (i >= value.length) break;
    if (value[i] === '"') {
      let field = "";
      let closed = false;
      i++;
      while (i < value.length) {
        if (value[i] === "\\" && (value[i + 1] === '"' || value[i + 1] === "\\")) {
          field += value[i + 1];
          i += 2;
        } else if (value[i] === '"' && value[i + 1] === '"') {
          field += '"';
          i += 2;
        } else if (value[i] === '"') {
          i++;
          closed = true;
          break;
        } else field += value[i++];
      }
      if (!closed) return undefined;
      out.push(field);
      skip(" \t\n\r");
      if (i < value.length && value[i] !== ",") return undefined;
    } else {
      const start = i;
      while (i < value.length && value[i] !== ",") i++;
      out.push(value.slice(start, i).trim());
    }
  }
  return out;
}

/** Replaces `{$ref: "#/path"}` objects by what they point to in the same document. */
function resolveRefs(value: unknown, root: Record<string, unknown>, depth: number, field = ""): { value: unknown; problems: { field: string; message: string }[] } {
  const problems: { field: string; message: string }[] = [];
  // References can fan out (a template that refers twice to one that refers twice...): bound the work.
  let budget = MAX_REF_NODES;
  const walk = (v: unknown, d: number, at: string): unknown => {
    if (--budget < 0) {
      if (budget === -1) problems.push({ field: at, message: `references expand to more than ${MAX_REF_NODES} values; the rest are left unresolved` });
      return {};
    }
    if (d > 40) {
      problems.push({ field: at, message: "references nest too deeply; left unresolved" });
      return v;
    }
    if (Array.isArray(v)) return v.map((x, k) => walk(x, d + 1, `${at}[${k}]`));
    if (!isRecord(v)) return v;
    if (typeof v.$ref === "string") {
      const ref = v.$ref;
      if (!ref.startsWith("#/")) {
        problems.push({ field: at, message: `$ref "${ref}" points outside the config; not imported` });
        return {};
      }
      let target: unknown = root;
      for (const raw of ref.slice(2).split("/")) {
        const part = raw.replaceAll("~1", "/").replaceAll("~0", "~");
        target = isRecord(target) && Object.hasOwn(target, part) ? target[part] : Array.isArray(target) && /^\d+$/.test(part) ? target[Number(part)] : undefined;
      }
      if (target === undefined) {
        problems.push({ field: at, message: `$ref "${ref}" points to nothing; not imported` });
        return {};
      }
      return walk(target, d + 1, at);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, d + 1, at ? `${at}.${k}` : k)]));
  };
  return { value: walk(value, depth, field), problems };
}

/** promptfoo's defaultTest merge: vars, options and metadata merged, default assertions first. */
function mergeDefaults(defaults: Test, test: Test): Test {
  const merged: Test = { ...defaults, ...test };
  merged.vars = { ...(isRecord(defaults.vars) ? defaults.vars : {}), ...(isRecord(test.vars) ? test.vars : {}) };
  merged.options = { ...(isRecord(defaults.options) ? defaults.options : {}), ...(isRecord(test.options) ? test.options : {}) };
  merged.assert = [...(Array.isArray(defaults.assert) ? defaults.assert : []), ...(Array.isArray(test.assert) ? test.assert : [])];
  if (defaults.metadata !== undefined || test.metadata !== undefined) merged.metadata = { ...(isRecord(defaults.metadata) ? defaults.metadata : {}), ...(isRecord(test.metadata) ? test.metadata : {}) };
  if (test.threshold === undefined && defaults.threshold !== undefined) merged.threshold = defaults.threshold;
  return merged;
}

/** promptfoo runs a test once per combination of its list-valued vars; undefined past the case limit. */
function expandVarLists(test: Test): Test[] | undefined {
  const vars = isRecord(test.vars) ? test.vars : {};
  let combos: Record<string, unknown>[] = [{}];
  for (const [name, value] of Object.entries(vars)) {
    const options = Array.isArray(value) && value.length > 0 ? value : [value];
    // Past the case limit the caller refuses the import; stop multiplying before memory does.
    if (combos.length * options.length > MAX_EXPANDED_CASES) return undefined;
    combos = combos.flatMap((c) => options.map((o) => ({ ...c, [name]: o })));
  }
  return combos.map((vars) => ({ ...test, vars }));
}

/** A rendered prompt that is a JSON list of {role, content} is a chat, as in promptfoo. */
function parseChat(text: string): ChatMessage[] | undefined {
  if (!text.trimStart().startsWith("[")) return undefined;
  try {
    const value = JSON.parse(text);
    if (Array.isArray(value) && value.length && value.every((m) => isRecord(m) && ["system", "user", "assistant"].includes(m.role as string) && typeof m.content === "string" && Object.keys(m).length === 2)) {
      return value as ChatMessage[];
    }
  } catch {
    // not JSON: a plain text prompt that starts with "["
  }
  return undefined;
}

function containsCustomTag(text: string): boolean {
  return /(^|[\s:[,-])!(?!!)[A-Za-z]/m.test(text);
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

export { HEARTH_KEY as PROMPTFOO_HEARTH_KEY };
