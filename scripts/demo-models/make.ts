// `npx tsx scripts/demo-models/make.ts`: trains the demo project's three small models again
// (server/demo/models/, committed) from the demo's own policy, pairs and cases, with the oracle's Python
// (PyTorch and transformers, `npm run oracle:setup`). See scripts/demo-models/train.py.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEMO_CASES, DEMO_POLICY, demoPairs } from "../../server/demo/content";
import { oraclePython } from "../../test/support/oracle";

const out = path.resolve("server/demo/models");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-demo-"));
const textFile = path.join(dir, "text.json");
const cases = DEMO_CASES.map((c) => ({ input: c.input, values: c.graders.flatMap((g) => (g.type === "contains" ? g.values : [])) }));
fs.writeFileSync(textFile, JSON.stringify({ policy: DEMO_POLICY, pairs: demoPairs(), cases }));
fs.rmSync(out, { recursive: true, force: true });
execFileSync(oraclePython(), [path.resolve("scripts/demo-models/train.py"), textFile, out], { stdio: "inherit", env: { ...process.env, OMP_NUM_THREADS: "2" } });
fs.rmSync(dir, { recursive: true, force: true });
console.log(`demo models written to ${out}`);
