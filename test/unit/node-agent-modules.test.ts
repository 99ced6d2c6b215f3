// `hearth node` runs on GPU servers: it must start without loading the web server's runtime
// (Prisma, the pg driver, next-auth, Next, the server's own modules). This starts the real command
// and records every module it loads.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

function modulesLoadedBy(args: string[]): string[] {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-modules-")), "loaded.txt");
  const r = spawnSync(process.execPath, ["--import", path.join(root, "test/support/record-modules.mjs"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, HEARTH_RECORD_MODULES: file },
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  return fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
}

const FORBIDDEN = [/\/node_modules\/@prisma\//, /\/node_modules\/\.prisma\//, /\/node_modules\/pg\//, /\/node_modules\/next-auth\//, /\/node_modules\/next\//, /\/server\//];

describe("the node agent's process", () => {
  it("loads the agent, the engine and the contracts, and nothing of the web server", () => {
    const loaded = modulesLoadedBy(["bin/hearth.mjs", "node", "--help"]);
    const ours = loaded.filter((u) => u.startsWith("file://" + root) && !u.includes("/node_modules/")).map((u) => path.relative(root, new URL(u).pathname));
    expect(ours).toContain("node-agent/main.ts");
    expect(ours.some((f) => f.startsWith("gpu/"))).toBe(true);
    expect(ours.some((f) => f.startsWith("contracts/"))).toBe(true);
    const offenders = loaded.filter((u) => FORBIDDEN.some((re) => re.test(u)));
    expect(offenders).toEqual([]);
  });

  it("would catch a server module if one were loaded (the recorder sees it)", () => {
    const loaded = modulesLoadedBy(["--import", "tsx", "-e", 'await import("./server/job-queue/queue.ts")']);
    expect(loaded.some((u) => /\/node_modules\/@prisma\//.test(u))).toBe(true);
    expect(loaded.some((u) => u.endsWith("/server/job-queue/queue.ts"))).toBe(true);
  });
});
