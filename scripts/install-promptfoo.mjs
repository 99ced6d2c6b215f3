#!/usr/bin/env node
// Installs the pinned promptfoo (the oracle for imported promptfoo configs; test/oracle/promptfoo.json)
// apart from the app's dependencies, into $HEARTH_PROMPTFOO_DIR or ~/.cache/hearth-oracle/promptfoo-<version>,
// unless it is there already. Plain Node with no dependencies, so CI can start it before `npm install`
// and let the two downloads overlap (.ci/run); the tests call it through test/support/promptfoo-oracle.ts.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export const PROMPTFOO_VERSION = JSON.parse(fs.readFileSync(new URL("../test/oracle/promptfoo.json", import.meta.url), "utf8")).version;
export const PROMPTFOO_DIR = process.env.HEARTH_PROMPTFOO_DIR ?? path.join(os.homedir(), ".cache", "hearth-oracle", `promptfoo-${PROMPTFOO_VERSION}`);

function installedVersion() {
  try {
    return JSON.parse(fs.readFileSync(path.join(PROMPTFOO_DIR, "node_modules", "promptfoo", "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

/** Installs when missing; returns why promptfoo cannot run, or null. */
export function installPromptfoo(log = () => {}) {
  if (installedVersion() === PROMPTFOO_VERSION) return null;
  try {
    fs.mkdirSync(PROMPTFOO_DIR, { recursive: true });
    fs.writeFileSync(path.join(PROMPTFOO_DIR, "package.json"), JSON.stringify({ name: "hearth-promptfoo-oracle", private: true }));
    log(`installing promptfoo@${PROMPTFOO_VERSION} into ${PROMPTFOO_DIR} (once)`);
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev", `promptfoo@${PROMPTFOO_VERSION}`], {
      cwd: PROMPTFOO_DIR,
      env: { ...process.env, PROMPTFOO_DISABLE_TELEMETRY: "1", PROMPTFOO_DISABLE_UPDATE: "1", PROMPTFOO_DISABLE_SHARING: "1" },
      stdio: "pipe",
      timeout: 15 * 60_000,
    });
  } catch (e) {
    return `npm could not install promptfoo@${PROMPTFOO_VERSION}: ${e.message.split("\n")[0]}`;
  }
  return installedVersion() === PROMPTFOO_VERSION ? null : "promptfoo installed but its package.json is missing";
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const why = installPromptfoo((line) => console.log(line));
  if (why) {
    console.error(why);
    process.exit(1);
  }
  console.log(`promptfoo ${PROMPTFOO_VERSION} ready in ${PROMPTFOO_DIR}`);
}
