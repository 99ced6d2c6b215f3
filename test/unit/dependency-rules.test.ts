// The dependency rule of ../shared/DESIGN.md, held by dependency-cruiser (.dependency-cruiser.cjs):
// the codebase follows it, and each rule fails a new import that breaks it, by name.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const fixtures = path.join(root, "test/fixtures/dependency-rules");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

function cruise(cwd: string, config: string, dirs: string[]): { violations: Violation[]; modules: number } {
  const r = spawnSync(process.execPath, [path.join(root, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs"), "--config", config, "--output-type", "json", ...dirs], {
    cwd,
    encoding: "utf8",
    maxBuffer: 256 << 20,
    timeout: 120_000,
  });
  if (!r.stdout) throw new Error(`dependency-cruiser failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout);
  return { violations: out.summary.violations, modules: out.summary.totalCruised };
}

const describeViolation = (v: Violation) => `${v.rule.name}: ${v.from} -> ${v.to}`;

describe("the dependency rule", () => {
  it("holds for the whole codebase, with no import cycle", () => {
    const { violations, modules } = cruise(root, ".dependency-cruiser.cjs", ["app", "server", "gpu", "node-agent", "contracts", "scripts", "bin"]);
    expect(modules).toBeGreaterThan(200);
    expect(violations.map(describeViolation)).toEqual([]);
  });

  it("fails each forbidden import with the rule's name", () => {
    // The same rules, cruised over a small tree that breaks each of them once.
    const config = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-depcruise-")), "config.cjs");
    fs.writeFileSync(
      config,
      `const base = require(${JSON.stringify(path.join(root, ".dependency-cruiser.cjs"))});\n` +
        `module.exports = { ...base, options: { ...base.options, tsConfig: undefined } };\n`,
    );
    const { violations } = cruise(fixtures, config, ["app", "server", "gpu", "node-agent", "contracts"]);
    const found = violations.map(describeViolation).map((s) => s.replace(/ -> .*node_modules\//, " -> node_modules/"));
    expect(found).toEqual(
      expect.arrayContaining([
        "gpu-imports-nothing-of-ours: gpu/engine.ts -> server/domain.ts",
        "domain-code-does-not-import-trpc: server/domain.ts -> server/trpc/init.ts",
        "server-does-not-import-app-or-node-agent: server/ui.ts -> app/widget.ts",
        "node-agent-only-gpu-and-contracts: node-agent/main.ts -> server/domain.ts",
        "contracts-import-no-runtime-of-ours: contracts/shape.ts -> server/domain.ts",
        "pages-reach-server-only-through-trpc-types-and-contracts: app/widget.ts -> server/domain.ts",
        "pages-import-the-router-as-a-type-only: app/client.ts -> server/trpc/root.ts",
      ]),
    );
    expect(found.some((s) => s.startsWith("node-agent-loads-no-web-runtime: node-agent/db.ts -> node_modules/pg/"))).toBe(true);
    expect(found.some((s) => s.startsWith("no-cycles: server/cycle-"))).toBe(true);
    // What the rule allows stays allowed: a type-only import of the router, a route handler calling the server.
    expect(found.filter((s) => s.includes("app/types.ts") || s.includes("app/api/route.ts"))).toEqual([]);
  });
});
