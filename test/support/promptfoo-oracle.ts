// promptfoo itself as the oracle for imported promptfoo configs. A pinned promptfoo is installed once,
// apart from the app's dependencies (it is not in package.json), into a cache directory outside the
// repository: $HEARTH_PROMPTFOO_DIR, else ~/.cache/hearth-oracle/promptfoo-<version>. First install
// takes about 2 minutes (about 720 packages, 175 MB, install scripts off); later runs reuse it.
// Tests feed it fixed outputs through a file provider and read its verdicts back. Telemetry, update
// checks and its result database are off or kept in a temporary directory.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";

export const PROMPTFOO_VERSION = "0.121.20"; // the newest release that supports Node 20
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

function installedVersion(): string | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(PROMPTFOO_DIR, "node_modules", "promptfoo", "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

/** Installs the pinned promptfoo into the cache when missing; returns why it cannot run, or null. */
export function ensurePromptfoo(log: (line: string) => void = () => {}): string | null {
  if (installedVersion() === PROMPTFOO_VERSION) return null;
  try {
    fs.mkdirSync(PROMPTFOO_DIR, { recursive: true });
    fs.writeFileSync(path.join(PROMPTFOO_DIR, "package.json"), JSON.stringify({ name: "hearth-promptfoo-oracle", private: true }));
    log(`installing promptfoo@${PROMPTFOO_VERSION} into ${PROMPTFOO_DIR} (once)`);
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev", `promptfoo@${PROMPTFOO_VERSION}`], {
      cwd: PROMPTFOO_DIR, env: quietEnv(os.tmpdir()), stdio: "pipe", timeout: 15 * 60_000,
    });
  } catch (e) {
    return `npm could not install promptfoo@${PROMPTFOO_VERSION}: ${(e as Error).message.split("\n")[0]}`;
  }
  return installedVersion() === PROMPTFOO_VERSION ? null : "promptfoo installed but its package.json is missing";
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
