// No verdict changed silently: a promptfoo config imported into Hearth and graded by Hearth gives
// promptfoo's own verdict (and score) on every output, unless the case is tagged needs-review.
// The expected verdicts come from promptfoo itself (pinned, installed apart: test/support/promptfoo-oracle.ts).
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { gradeCase } from "@/gpu/eval/grade";
import { canonicalJson } from "@/gpu/eval/hash";
import { importPromptfoo } from "@/gpu/eval/formats/promptfoo-yaml";
import { NEEDS_REVIEW_TAG } from "@/gpu/eval/formats/report";
import { SourceFiles } from "@/gpu/eval/formats/source-files";
import type { EvalCase } from "@/gpu/eval/case";
import { ensurePromptfoo, promptfooVerdicts, PROMPTFOO_VERSION, type PromptfooRow } from "../support/promptfoo-oracle";

const FIXTURE = path.resolve(import.meta.dirname, "../fixtures/import/promptfoo-oracle");

/** Every test of the fixture is graded on every one of these outputs. */
const OUTPUTS = [
  "Paris",
  '{"countries": ["France", "Spain"]}',
  '```json\n{"countries": ["France"]}\n```',
  "hello world",
  "Hello, World! Sorry, 2 tries.",
  "  hello world  ",
  "As an AI, I think Paris, France.",
  "París",
  '{"countries": []}',
];

// Installed by the oracle project's global setup; this call only checks (or installs when run alone).
const why = process.env.HEARTH_PROMPTFOO_ERROR ?? ensurePromptfoo((line) => console.log(line));
if (why && process.env.CI === "true") throw new Error(`promptfoo oracle unavailable in CI: ${why}`);
if (why) console.warn(`\n!!! PROMPTFOO ORACLE TESTS SKIPPED: ${why}\n`);

function folderFiles(dir: string): SourceFiles {
  const entries: [string, string][] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else entries.push([p, fs.readFileSync(path.join(dir, p), "utf8")]);
    }
  };
  walk("");
  return new SourceFiles(entries);
}

/** The same prompt as promptfoo sent it and as Hearth holds it (chats compared as JSON). */
function promptKey(prompt: string | EvalCase["input"]): string {
  if (typeof prompt !== "string") return canonicalJson(prompt);
  try {
    const value = JSON.parse(prompt);
    if (Array.isArray(value)) return canonicalJson(value);
  } catch {
    // plain text
  }
  return prompt;
}

describe.skipIf(why !== null)(`imported promptfoo verdicts match promptfoo ${PROMPTFOO_VERSION}`, () => {
  const imported = importPromptfoo(folderFiles(FIXTURE));
  let rows: PromptfooRow[] = [];
  const byKey = new Map(imported.cases.map((c) => [promptKey(c.input), c]));

  beforeAll(() => {
    (globalThis as { pwned?: unknown }).pwned = undefined;
    rows = promptfooVerdicts(FIXTURE, OUTPUTS);
  });

  it("imports every test promptfoo runs: defaultTest, scenarios, list vars and both prompts expanded alike", () => {
    expect(imported.errors).toEqual([]);
    expect(byKey.size).toBe(imported.cases.length); // each case's prompt is distinct, so rows map to cases
    expect(new Set(rows.map((r) => promptKey(r.prompt)))).toEqual(new Set(byKey.keys()));
    expect(rows.length).toBe(imported.cases.length * OUTPUTS.length);
  });

  it("gives promptfoo's verdict and score on every output of every case not tagged needs-review", async () => {
    const mismatches: string[] = [];
    let compared = 0;
    for (const row of rows) {
      const c = byKey.get(promptKey(row.prompt))!;
      if (c.tags.includes(NEEDS_REVIEW_TAG)) continue;
      const hearth = await gradeCase(c, row.output);
      compared++;
      if (hearth.pass !== row.pass || Math.abs(hearth.score - row.score) > 1e-9) {
        mismatches.push(`${c.id} on ${JSON.stringify(row.output)}: promptfoo ${row.pass} (${row.score}), Hearth ${hearth.pass} (${hearth.score})`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(compared).toBeGreaterThan(150);
  });

  it("tags the case whose transform it cannot run, and that case's verdict does differ from promptfoo's somewhere", async () => {
    const tagged = imported.cases.filter((c) => c.tags.includes(NEEDS_REVIEW_TAG)).map((c) => c.id);
    expect(tagged).toEqual(["transform-is-never-run-p1", "transform-is-never-run-chat"]);
    const note = imported.notes.find((n) => n.caseId === "transform-is-never-run-p1" && n.changesVerdict);
    expect(note).toMatchObject({ file: "promptfooconfig.yaml", field: "tests[7].assert[0].transform" });
    let differs = 0;
    for (const row of rows) {
      const c = byKey.get(promptKey(row.prompt))!;
      if (c.tags.includes(NEEDS_REVIEW_TAG) && (await gradeCase(c, row.output)).pass !== row.pass) differs++;
    }
    expect(differs).toBeGreaterThan(0);
    expect((globalThis as { pwned?: unknown }).pwned).toBeUndefined();
  });

  it("reports the file-level fields it does not honour: derivedMetrics, description, metric totals", () => {
    const fields = imported.notes.map((n) => n.field);
    expect(fields).toEqual(expect.arrayContaining(["derivedMetrics[0]", "description"]));
    expect(imported.notes.find((n) => n.field === "derivedMetrics[0]")?.changesVerdict).toBe(false);
    expect(imported.notes.some((n) => n.field.endsWith(".metric") && !n.changesVerdict)).toBe(true);
  });
});

describe.skipIf(why !== null)(`imported promptfoo prompts render as promptfoo ${PROMPTFOO_VERSION} renders them`, () => {
  const dir = path.resolve(import.meta.dirname, "../fixtures/import/promptfoo-oracle-prompts");

  it("splits a prompt file at ---, prints an object var as nunjucks does, and renders a missing var empty", async () => {
    const imported = importPromptfoo(folderFiles(dir));
    expect(imported.errors).toEqual([]);
    const rows = promptfooVerdicts(dir, ["I can help with a refund", "no"]);
    expect(new Set(rows.map((r) => r.prompt))).toEqual(new Set(imported.cases.map((c) => c.input)));
    expect(imported.cases.map((c) => c.input)).toEqual(["Order [object Object] for a refund", "First: a refund", "Second: a refund (3)"]);
    for (const row of rows) {
      const c = imported.cases.find((x) => x.input === row.prompt)!;
      expect((await gradeCase(c, row.output)).pass).toBe(row.pass);
    }
  });
});
