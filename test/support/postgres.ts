// A throwaway PostgreSQL cluster for tests: initdb into a temp dir, start it on a free port of
// 127.0.0.1 with durability off, remove it all on stop. Uses the server binaries of Debian's
// `postgresql` package (or any on PATH); CI installs them.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface PostgresCluster {
  /** Connection string of the `postgres` database as the `postgres` superuser (trust auth). */
  url: string;
  /** The PostgreSQL major version of the binaries. */
  version: number;
  /** Stops the server and deletes the cluster's files. */
  stop(): Promise<void>;
}

export type PostgresBinaries = { binDir: string; version: number } | { unavailable: string };

/** The newest server binaries in /usr/lib/postgresql/<version>/bin, else on PATH. */
export function findPostgresBinaries(): PostgresBinaries {
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, "bin", "initdb")))
        .map(Number)
        .sort((a, b) => b - a)
    : [];
  if (versions.length) return { binDir: path.join(root, String(versions[0]), "bin"), version: versions[0] };
  const which = spawnSync("sh", ["-c", "command -v initdb"], { encoding: "utf8" });
  const initdb = which.stdout.trim();
  if (which.status === 0 && initdb && fs.existsSync(path.join(path.dirname(initdb), "pg_ctl"))) {
    const out = execFileSync(initdb, ["--version"], { encoding: "utf8" });
    return { binDir: path.dirname(initdb), version: Number(/(\d+)/.exec(out)?.[1] ?? 0) };
  }
  return {
    unavailable:
      "No PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin or on PATH. " +
      "Install them with `apt-get install postgresql` (CI does).",
  };
}

/** Starts a new cluster, or returns null when no binaries exist (see findPostgresBinaries for why). */
export async function startPostgresCluster(): Promise<PostgresCluster | null> {
  const binaries = findPostgresBinaries();
  if ("unavailable" in binaries) return null;
  const { binDir, version } = binaries;

  const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-pg-"));
  const dataDir = path.join(baseDir, "data");
  const socketDir = path.join(baseDir, "socket");
  const logFile = path.join(baseDir, "server.log");
  fs.mkdirSync(socketDir);
  const run = runAsNonRoot(baseDir);

  const port = await freePort();
  try {
    run(path.join(binDir, "initdb"), ["-D", dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"]);
    const serverOptions = [
      `-p ${port}`,
      `-k ${socketDir}`,
      "-c listen_addresses=127.0.0.1",
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
    ].join(" ");
    run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "-t", "60", "start"]);
  } catch (error) {
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "";
    fs.rmSync(baseDir, { recursive: true, force: true });
    throw new Error(`Could not start PostgreSQL ${version}: ${(error as Error).message}\n${log}`);
  }

  let stopped = false;
  const stopNow = (mode: "fast" | "immediate") => {
    if (stopped) return;
    stopped = true;
    process.removeListener("exit", onExit);
    try {
      run(path.join(binDir, "pg_ctl"), ["-D", dataDir, "-m", mode, "-w", "stop"]);
    } finally {
      fs.rmSync(baseDir, { recursive: true, force: true });
    }
  };
  // A test run that dies must not leave a server running.
  const onExit = () => stopNow("immediate");
  process.on("exit", onExit);

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version,
    async stop() {
      stopNow("fast");
    },
  };
}

/**
 * initdb refuses to run as root. As root, run the binaries as the `postgres` OS user (created by
 * the Debian package) and give it the cluster's directory.
 */
function runAsNonRoot(baseDir: string): (file: string, args: string[]) => void {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    for (const entry of [baseDir, ...fs.readdirSync(baseDir).map((e) => path.join(baseDir, e))]) fs.chownSync(entry, uid, gid);
  }
  return (file, args) => {
    const [command, commandArgs] = asRoot ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
    const result = spawnSync(command, commandArgs, { encoding: "utf8", cwd: baseDir });
    if (result.status !== 0) {
      throw new Error(`${path.basename(file)} ${args.join(" ")} exited with ${result.status}: ${result.stderr || result.stdout}`);
    }
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
