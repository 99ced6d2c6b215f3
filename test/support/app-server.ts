// Runs Hearth as a person would (`node --import tsx server/main.ts`, production build) in a child process.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { rootDir } from "../../scripts/build";

export interface AppProcess {
  url: string;
  output(): string;
  stop(): Promise<number | null>;
  /** Sends `signal` (e.g. SIGKILL for a crash) and resolves with the exit code once it exited. */
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

export async function startAppProcess(options: { port: number; dataDir: string; env?: Record<string, string>; timeoutMs?: number }): Promise<AppProcess> {
  const url = `http://localhost:${options.port}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL; // the embedded database in dataDir
  // As `npm start` runs it: TypeScript through tsx's loader in this one process, so SIGTERM reaches the
  // server's own handler (tsx's CLI wrapper SIGKILLs a child that does not acknowledge a signal within
  // 30 ms, which a busy server may not: no drain, and an embedded database stopped uncleanly).
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: rootDir,
    env: {
      ...env,
      NODE_ENV: "production",
      PORT: String(options.port),
      HOST: "127.0.0.1",
      HEARTH_DATA_DIR: options.dataDir,
      NEXTAUTH_URL: url,
      ...options.env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (!output.includes("Hearth is running")) {
    if (child.exitCode !== null) throw new Error(`Hearth exited with ${child.exitCode} before it was ready:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`Hearth was not ready in time:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    async kill(signal) {
      // The server and whatever it started (a model evaluated on the CPU in a child process, for one): signal the whole tree.
      if (child.exitCode === null && child.signalCode === null && child.pid) {
        for (const pid of [...descendantsOf(child.pid), child.pid]) {
          try {
            process.kill(pid, signal);
          } catch {
            // already gone
          }
        }
      }
      return exited;
    },
  };
}

/** Process ids below `pid` (children first listed before their parents' siblings), via pgrep. */
function descendantsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).split("\n").filter(Boolean).map(Number);
  } catch {
    return [];
  }
  return children.flatMap((child) => [...descendantsOf(child), child]);
}
