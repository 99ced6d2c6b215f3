// Runs Hearth as a person would (`tsx server/main.ts`, production build) in a child process.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { rootDir } from "../../scripts/build";

export interface AppProcess {
  url: string;
  output(): string;
  stop(): Promise<number | null>;
}

export async function startAppProcess(options: { port: number; dataDir: string; env?: Record<string, string>; timeoutMs?: number }): Promise<AppProcess> {
  const url = `http://localhost:${options.port}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DATABASE_URL; // the embedded database in dataDir
  const child: ChildProcess = spawn(process.execPath, [path.join(rootDir, "node_modules", "tsx", "dist", "cli.mjs"), "server/main.ts"], {
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
  };
}
