// promptfoo itself as the oracle for imported promptfoo configs. A pinned promptfoo is installed once,
// apart from the app's dependencies (it is not in package.json), into a cache directory outside the
// repository: $HEARTH_PROMPTFOO_DIR, else ~/.cache/hearth-oracle/promptfoo-<version>. First install
// takes about 2 minutes (about 720 packages, 175 MB, install scripts off); later runs reuse it.
// Tests feed it fixed outputs through a file provider and read its verdicts back. Telemetry, update
// checks and its result database are off or kept in a temporary directory.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";

// The version and the install live in scripts/install-promptfoo.mjs (plain Node, so CI can start it first).
const pinned = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "../oracle/promptfoo.json"), "utf8")) as { version: string };
export const PROMPTFOO_VERSION = pinned.version;
export const PROMPTFOO_DIR = process.env.HEARTH_PROMPTFOO_DIR ?? path.join(os.homedir(), ".cache", "hearth-oracle", `promptfoo-${PROMPTFOO_VERSION}`);
const MAIN = path.join(PROMPTFOO_DIR, "node_modules", "promptfoo", "dist", "src", "main.js");

const quietEnv = (home: string): NodeJS.ProcessEnv => ({
  ...process.env,
  PROMPTFOO_DISABLE_TELEMETRY: "1",
  PROMPTFOO_DISABLE_UPDATE: "1",
  PROMPTFOO_DISABLE_SHARING: "1",
  PROMPTFOO_CONFIG_DIR: home,
  PROMPTFOO_CACHE_ENABLED: "false",
});

/** Installs the pinned promptfoo into the cache when missing (scripts/install-promptfoo.mjs); returns why it cannot run, or null. */
export function ensurePromptfoo(log: (line: string) => void = () => {}): string | null {
  const r = spawnSync(process.execPath, [path.join(import.meta.dirname, "../../scripts/install-promptfoo.mjs")], { encoding: "utf8", timeout: 16 * 60_000 });
  for (const line of r.stdout.split("\n")) if (line.trim()) log(line);
  return r.status === 0 ? null : (r.stderr.trim() || `the promptfoo install stopped (${r.error?.message ?? `exit ${r.status}`})`);
}

export interface PromptfooRow {
  /** The prompt promptfoo sent (rendered). */
  prompt: string;
  output: string;
  pass: boolean;
  score: number;
  description?: string;
}

const PROVIDER = `// Answers each prompt with the next of HEARTH_ORACLE_OUTPUTS (a JSON list), per prompt.
const fs = require("fs");
const outputs = JSON.parse(fs.readFileSync(process.env.HEARTH_ORACLE_OUTPUTS, "utf8"));
const calls = new Map();
module.exports = class {
  id() { return "hearth-fixed-outputs"; }
  async callApi(prompt) {
    const k = calls.get(prompt) ?? 0;
    calls.set(prompt, k + 1);
    return { output: outputs[k % outputs.length] };
  }
};
`;

/**
 * Runs `promptfoo eval` on a copy of the fixture folder with every output in `outputs` given to every
 * test (via --repeat), and returns one row per (prompt, output) promptfoo graded.
 */
export function promptfooVerdicts(fixtureDir: string, outputs: string[]): PromptfooRow[] {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-promptfoo-"));
  try {
    fs.cpSync(fixtureDir, work, { recursive: true });
    const configPath = path.join(work, "promptfooconfig.yaml");
    const config = parseYaml(fs.readFileSync(configPath, "utf8"));
    config.providers = ["file://hearth-oracle-provider.cjs"];
    fs.writeFileSync(configPath, toYaml(config));
    fs.writeFileSync(path.join(work, "hearth-oracle-provider.cjs"), PROVIDER);
    fs.writeFileSync(path.join(work, "outputs.json"), JSON.stringify(outputs));
    const home = path.join(work, ".promptfoo");
    // promptfoo exits non-zero when a test fails: the results file is what counts.
    const run = spawnSync(process.execPath, [MAIN, "eval", "-c", configPath, "-o", path.join(work, "results.json"), "--no-cache", "--no-table", "--no-progress-bar", "--no-write", "--repeat", String(outputs.length), "-j", "1"], {
      cwd: work, env: { ...quietEnv(home), HEARTH_ORACLE_OUTPUTS: path.join(work, "outputs.json") }, encoding: "utf8", timeout: 120_000,
    });
    if (!fs.existsSync(path.join(work, "results.json"))) throw new Error(`promptfoo eval wrote no results (exit ${run.status}): ${(run.stderr || run.stdout || "").slice(-2000)}`);
    const results = JSON.parse(fs.readFileSync(path.join(work, "results.json"), "utf8"));
    return (results.results.results as { prompt: { raw: string }; response?: { output?: unknown }; success: boolean; score: number; testCase?: { description?: string } }[]).map((r) => ({
      prompt: r.prompt.raw,
      output: String(r.response?.output ?? ""),
      pass: r.success,
      score: r.score,
      description: r.testCase?.description,
    }));
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
