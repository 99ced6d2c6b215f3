// A server killed with SIGKILL can linger as a zombie when nothing reaps it (its parent died too, and a
// container's init may not reap): its lock on the embedded database must count as stale.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { startEmbeddedDatabase } from "@/server/db/embedded";
import { blankEmbeddedDataDir } from "../support/databases";

/** A child process that has exited but is never reaped: its parent (python) sleeps without waiting. */
async function zombiePid(): Promise<{ pid: number; release(): void }> {
  const parent = spawn("python3", ["-c", "import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)"]);
  const pid = await new Promise<number>((resolve) => parent.stdout.once("data", (chunk) => resolve(Number(String(chunk).trim()))));
  // Wait until the child has exited and shows as a zombie.
  for (let i = 0; i < 50 && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z "); i++) await new Promise((r) => setTimeout(r, 20));
  return { pid, release: () => parent.kill("SIGKILL") };
}

describe("embedded database lock", () => {
  it("takes over a lock held by a zombie process", async () => {
    const dataDir = blankEmbeddedDataDir();
    const zombie = await zombiePid();
    try {
      expect(fs.readFileSync(`/proc/${zombie.pid}/stat`, "utf8")).toContain(") Z ");
      fs.writeFileSync(`${dataDir}.lock`, String(zombie.pid));
      const database = await startEmbeddedDatabase({ dataDir });
      await database.stop();
    } finally {
      zombie.release();
      fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
    }
  });
});
