// The embedded database: PGlite (Postgres compiled to WASM) persisted in a directory and served
// over the Postgres wire protocol on 127.0.0.1, so `pg`, `@prisma/adapter-pg` and the job queue
// use exactly the code paths they use against a real PostgreSQL server.
//
// PGlite is single-writer and has ONE backend session shared by every socket connection:
// - one open transaction blocks queries from all other connections until it ends: keep
//   transactions short;
// - session state (SET, advisory locks, temp tables) is shared by all connections;
// - only one process may open a data directory: a lock file next to it enforces that.
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { makeQueueSyncAware } from "./socket-queue";
import fs from "node:fs";
import path from "node:path";

export const DEFAULT_EMBEDDED_DATA_DIR = "./data/pglite";

export interface EmbeddedDatabase {
  /** postgres:// connection string for `pg` and `@prisma/adapter-pg`. */
  url: string;
  /** The resolved data directory, or null for an in-memory database. */
  dataDir: string | null;
  /** Closes connections and the database cleanly, so the data directory reopens intact. */
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Where the database files live; `null` for a throwaway in-memory database. */
  dataDir?: string | null;
  /** TCP port on 127.0.0.1; a free one when omitted. */
  port?: number;
  /**
   * Concurrent socket connections (default 20). The server's own default of 1 resets extra pool
   * connections; the app's Prisma pool alone opens up to 10 (pg's default), plus migration,
   * health and job-queue connections.
   */
  maxConnections?: number;
}

export class EmbeddedDatabaseLockedError extends Error {
  constructor(dataDir: string, pid: number) {
    super(
      `The embedded database in ${dataDir} is already open by process ${pid}. ` +
        `PGlite allows one process per data directory: stop that process, or point DATABASE_URL ` +
        `at a PostgreSQL server to run several instances.`,
    );
    this.name = "EmbeddedDatabaseLockedError";
  }
}

// Data directories opened by this process, so a second open in-process fails like one from
// another process instead of corrupting the directory.
const openInThisProcess = new Set<string>();

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions = {}): Promise<EmbeddedDatabase> {
  const dataDir = options.dataDir === null ? null : path.resolve(options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR);
  const releaseLock = dataDir ? acquireDataDirLock(dataDir) : () => {};
  let db: PGlite | undefined;
  try {
    if (dataDir) fs.mkdirSync(dataDir, { recursive: true });
    db = dataDir ? new PGlite(dataDir) : new PGlite();
    await db.waitReady;
    const server = new PGLiteSocketServer({
      db,
      host: "127.0.0.1",
      port: options.port ?? 0,
      maxConnections: options.maxConnections ?? 20,
    });
    makeQueueSyncAware(server);
    await server.start();
    const port = Number(server.getServerConn().split(":").pop());
    const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`;

    let stopping: Promise<void> | undefined;
    const openDb = db;
    const stop = () =>
      (stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          try {
            await openDb.close();
          } finally {
            releaseLock();
          }
        }
      })());
    return { url, dataDir, stop };
  } catch (error) {
    await db?.close().catch(() => {});
    releaseLock();
    throw error;
  }
}

function lockPathFor(dataDir: string): string {
  // Beside the directory, not inside it: PGlite owns the directory's contents.
  return `${dataDir}.lock`;
}

function acquireDataDirLock(dataDir: string): () => void {
  if (openInThisProcess.has(dataDir)) throw new EmbeddedDatabaseLockedError(dataDir, process.pid);
  const lockPath = lockPathFor(dataDir);
  fs.mkdirSync(path.dirname(lockPath), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      const holder = Number(fs.readFileSync(lockPath, "utf8").trim());
      if (holder !== process.pid && isProcessAlive(holder)) throw new EmbeddedDatabaseLockedError(dataDir, holder);
      // Stale lock left by a process that died (or by this pid in an earlier life): take it over.
      fs.rmSync(lockPath, { force: true });
    }
  }
  openInThisProcess.add(dataDir);
  const release = () => {
    if (!openInThisProcess.delete(dataDir)) return;
    process.removeListener("exit", release);
    try {
      if (fs.readFileSync(lockPath, "utf8").trim() === String(process.pid)) fs.rmSync(lockPath, { force: true });
    } catch {
      // Already gone.
    }
  };
  process.on("exit", release);
  return release;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  // A killed process stays a zombie until its parent reaps it (never, if the parent died too and the
  // container's init does not reap): it holds nothing, so its lock is stale.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc (not Linux): trust the signal check
  }
}
