// The oracle: Hugging Face's own Python libraries (transformers, tokenizers, peft, trl), never a
// reimplementation of ours. The vitest global setup (test/support/oracle-setup.ts) makes a virtual
// environment from the hash-pinned test/oracle/requirements.txt with the machine's local package
// index, once per requirements change; tests then run Python scripts in it.
//
//   const oracle = oracleOrSkip();          // at collection time
//   describe.skipIf(!oracle)("...", () => { const out = runOracle("make_fixture.py", [dir]); });
//
// With CI=true an unavailable oracle fails the run instead of skipping.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export const ORACLE_DIR = path.resolve(import.meta.dirname, "../oracle");
export const ORACLE_VENV = path.resolve(import.meta.dirname, "../../.venv-oracle");
/** transformers 4.57 (and the tokenizers it needs) installed apart, put first on PYTHONPATH on demand. */
export const ORACLE_TRANSFORMERS4 = path.join(ORACLE_VENV, "transformers4");
const STAMP = path.join(ORACLE_VENV, "hearth-requirements.sha256");

export function oraclePython(): string {
  return path.join(ORACLE_VENV, "bin", "python");
}

/** The sha256 of both requirement files: the environment is remade when it changes. */
export function requirementsHash(): string {
  const h = crypto.createHash("sha256");
  for (const f of ["requirements.txt", "requirements-transformers4.txt"]) h.update(fs.readFileSync(path.join(ORACLE_DIR, f)));
  return h.digest("hex");
}

const AGREEMENT_REQUIREMENTS = path.join(ORACLE_DIR, "requirements-agreement.txt");
const AGREEMENT_STAMP = path.join(ORACLE_VENV, "hearth-agreement.sha256");
const agreementHash = () => crypto.createHash("sha256").update(fs.readFileSync(AGREEMENT_REQUIREMENTS)).digest("hex");

/** Whether scikit-learn and statsmodels (the agreement oracle) are installed in the oracle environment. */
export function agreementOracleReady(): boolean {
  try {
    return oracleReady() && fs.readFileSync(AGREEMENT_STAMP, "utf8").trim() === agreementHash();
  } catch {
    return false;
  }
}

export function oracleReady(): boolean {
  try {
    return fs.readFileSync(STAMP, "utf8").trim() === requirementsHash() && fs.existsSync(oraclePython());
  } catch {
    return false;
  }
}

function sh(cmd: string, args: string[], timeoutMs: number): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.split("\n").filter((l) => !/is ignored: it is neither/.test(l)).slice(-20).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
}

/** Creates or refreshes the oracle environment. Throws with pip's own words when it cannot. */
export function ensureOracle(log: (line: string) => void = () => {}): void {
  if (!oracleReady()) makeOracle(log);
  // Added on top, with a stamp of its own: a change here installs these packages, it does not remake torch's environment.
  if (!agreementOracleReady()) {
    log("oracle: installing test/oracle/requirements-agreement.txt (scikit-learn, statsmodels)");
    sh(path.join(ORACLE_VENV, "bin", "pip"), ["install", "-q", "--retries", "0", "--timeout", "3", "--require-hashes", "--no-deps", "-r", AGREEMENT_REQUIREMENTS], 600_000);
    fs.writeFileSync(AGREEMENT_STAMP, agreementHash() + "\n");
  }
}

function makeOracle(log: (line: string) => void): void {
  const python = process.env.HEARTH_ORACLE_BASE_PYTHON ?? "python3";
  log(`oracle: creating ${ORACLE_VENV} from test/oracle/requirements.txt (about a minute, once)`);
  fs.rmSync(ORACLE_VENV, { recursive: true, force: true });
  sh(python, ["-m", "venv", ORACLE_VENV], 120_000);
  // --retries 0 --timeout 3: the public index is unreachable here; do not wait for it (PLATFORM.md).
  const pip = [path.join(ORACLE_VENV, "bin", "pip"), "install", "-q", "--retries", "0", "--timeout", "3", "--require-hashes", "--no-deps"];
  sh(pip[0], [...pip.slice(1), "-r", path.join(ORACLE_DIR, "requirements.txt")], 600_000);
  sh(pip[0], [...pip.slice(1), "--target", ORACLE_TRANSFORMERS4, "-r", path.join(ORACLE_DIR, "requirements-transformers4.txt")], 300_000);
  fs.writeFileSync(STAMP, requirementsHash() + "\n");
}

/**
 * Whether oracle tests can run. With CI=true an unavailable oracle is an error (a skipped oracle
 * test would hide a regression); elsewhere it prints why, loudly, and the tests skip.
 */
export function oracleOrSkip(): boolean {
  if (oracleReady()) return true;
  const why = process.env.HEARTH_ORACLE_ERROR ?? "the oracle environment (.venv-oracle) is missing or out of date";
  if (process.env.CI === "true") throw new Error(`Oracle tests cannot run in CI: ${why}`);
  console.warn(`\n!!! ORACLE TESTS SKIPPED: ${why}.\n!!! Run the suite with python3 and the local package index available to hold the engine to transformers.\n`);
  return false;
}

/** oracleOrSkip for the agreement oracle (scikit-learn, statsmodels): the same rules, CI included. */
export function agreementOracleOrSkip(): boolean {
  if (!oracleOrSkip()) return false;
  if (agreementOracleReady()) return true;
  const why = process.env.HEARTH_ORACLE_ERROR ?? "test/oracle/requirements-agreement.txt is not installed in .venv-oracle";
  if (process.env.CI === "true") throw new Error(`Agreement oracle tests cannot run in CI: ${why}`);
  console.warn(`\n!!! AGREEMENT ORACLE TESTS SKIPPED: ${why}.\n`);
  return false;
}

export interface OracleRun {
  stdout: string;
  stderr: string;
}

/**
 * Runs a script of test/oracle/ in the oracle environment. `transformers4` puts transformers 4.57
 * first on the path (for fixtures in the older config style). Throws with Python's traceback.
 */
export function runOracle(script: string, args: string[] = [], opts: { transformers4?: boolean; input?: string; timeoutMs?: number } = {}): OracleRun {
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONHASHSEED: "0", OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1" };
  if (opts.transformers4) env.PYTHONPATH = ORACLE_TRANSFORMERS4 + (env.PYTHONPATH ? path.delimiter + env.PYTHONPATH : "");
  const r = spawnSync(oraclePython(), [path.join(ORACLE_DIR, script), ...args], {
    encoding: "utf8",
    env,
    input: opts.input,
    timeout: opts.timeoutMs ?? 300_000,
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`oracle ${script} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * The tiny llama folder `hf_folder.py make` writes (transformers: bf16, 4 shards, byte-level BPE,
 * chat template), made once per checkout and kept under test-results/oracle-cache, keyed by the
 * script and the pinned packages: importing torch and transformers to remake it costs seconds per
 * test file. Copies it to `dest` (tests may change their copy).
 */
export function copyTinyLlamaFolder(dest: string): string {
  const key = crypto.createHash("sha256").update(fs.readFileSync(path.join(ORACLE_DIR, "hf_folder.py"))).update(requirementsHash()).digest("hex").slice(0, 16);
  const cached = path.resolve(import.meta.dirname, "../../test-results/oracle-cache", `tiny-llama-${key}`);
  if (!fs.existsSync(path.join(cached, "config.json"))) {
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    const tmp = `${cached}.tmp-${process.pid}-${Date.now()}`;
    runOracle("hf_folder.py", ["make", tmp]);
    try {
      fs.renameSync(tmp, cached);
    } catch {
      // another test file made it first: theirs is the same folder
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  fs.cpSync(cached, dest, { recursive: true });
  return dest;
}

/**
 * A long-lived oracle script answering one JSON line per request line (e.g. `hf_folder.py serve`):
 * torch and transformers are imported once per test file instead of once per question.
 */
export class OracleServer {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffer = "";
  private stderr = "";
  private waiting: Array<{ resolve: (v: unknown) => void; reject: (e: Error) => void }> = [];

  constructor(script: string, args: string[] = []) {
    this.child = spawn(oraclePython(), [path.join(ORACLE_DIR, script), ...args], {
      env: { ...process.env, PYTHONHASHSEED: "0", OMP_NUM_THREADS: "1", TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1" },
    });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        const next = this.waiting.shift();
        if (!next) continue;
        const answer = JSON.parse(line) as { error?: string };
        if (answer.error) next.reject(new Error(`oracle ${script}: ${answer.error}`));
        else next.resolve(answer);
      }
    });
    this.child.stderr.on("data", (chunk) => (this.stderr = (this.stderr + chunk).slice(-8000)));
    this.child.on("exit", (code) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`oracle ${script} exited (${code}):\n${this.stderr}`));
    });
  }

  request<T>(body: unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (v: unknown) => void, reject });
      this.child.stdin.write(JSON.stringify(body) + "\n");
    });
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** Prompt/response pairs in the words the tiny llama's tokenizer was trained on (hf_folder.py's corpus). */
export const TINY_LLAMA_PAIRS = [
  { prompt: "Refunds are possible?", response: "Refunds are possible within thirty days of delivery." },
  { prompt: "How long does shipping take?", response: "Shipping takes five working days." },
  { prompt: "Hello!", response: "Hello! How can I help you today?" },
  { prompt: "When can I get a refund?", response: "Within thirty days of delivery." },
];
