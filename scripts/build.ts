// Builds the Next app when the build is missing or older than its sources. Used by `npm start` and the tests.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = ["app", "server", "gpu", "contracts", "public", "proxy.ts", "next.config.ts", "package-lock.json", "tsconfig.json"];
const IGNORED = new Set(["node_modules", ".next", "generated"]);

function newestMtime(entry: string): number {
  const stat = fs.statSync(entry, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const child of fs.readdirSync(entry)) {
    if (!IGNORED.has(child)) newest = Math.max(newest, newestMtime(path.join(entry, child)));
  }
  return newest;
}

export function buildIsStale(): boolean {
  const built = fs.statSync(path.join(rootDir, ".next", "BUILD_ID"), { throwIfNoEntry: false });
  if (!built) return true;
  return SOURCES.some((source) => newestMtime(path.join(rootDir, source)) > built.mtimeMs);
}

/** Runs `next build` if needed; throws with the build's output when it fails. */
export function buildIfStale(options: { quiet?: boolean } = {}): boolean {
  if (!buildIsStale()) return false;
  if (!options.quiet) console.log("Building Hearth (first start, or the sources changed)...");
  const result = spawnSync(process.execPath, [path.join(rootDir, "node_modules", "next", "dist", "bin", "next"), "build"], {
    cwd: rootDir,
    stdio: options.quiet ? "pipe" : "inherit",
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1", NODE_ENV: "production" },
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(`next build failed (exit ${result.status}).${options.quiet ? `\n${result.stdout}\n${result.stderr}` : ""}`);
  }
  return true;
}
