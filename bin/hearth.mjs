#!/usr/bin/env node
// Hearth's command line. `hearth gate` (for CI) fails the build when a candidate model version does not
// pass a suite's release gate: plain Node (18+), no dependencies, it only calls Hearth's API.
// `hearth node` runs a GPU node (node-agent/main.ts, TypeScript loaded in this process through tsx,
// so a signal to this process reaches the node itself).
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const USAGE = `Usage: hearth gate --model <model id> --suite-version <suite version id> --candidate <model version id>
                  [--baseline <alias or model version id>] [--url <Hearth URL>]
       hearth node --server <Hearth URL> --token <node token> [--name <name>]   (hearth node --help)

Environment: HEARTH_API_KEY (an API key with the runs:read scope), HEARTH_URL (default http://localhost:3000).
Exit status: 0 the gate passed, 1 it failed, 2 the gate could not be evaluated.`;

function fail(message) {
  console.error(message);
  process.exit(2);
}

async function callQuery(url, key, path, input) {
  const response = await fetch(`${url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
    headers: { authorization: `Bearer ${key}` },
  }).catch((error) => fail(`Cannot reach Hearth at ${url}: ${error.cause?.message ?? error.message}`));
  const body = await response.json().catch(() => null);
  // 412: the request was understood but the gate cannot be evaluated (no thresholds, unknown baseline, no run).
  if (response.status === 412) fail(`Gate not evaluable: ${body?.error?.json?.message ?? "no details"}`);
  if (!response.ok) fail(`Hearth refused the request (HTTP ${response.status}): ${body?.error?.json?.message ?? "no details"}`);
  return body.result.data.json;
}

const percent = (value) => (value === null || value === undefined ? "n/a" : `${(value * 100).toFixed(1)}%`);

async function gate(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      "suite-version": { type: "string" },
      suite: { type: "string" },
      candidate: { type: "string" },
      baseline: { type: "string" },
      url: { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
  });
  const suiteVersionId = values["suite-version"] ?? values.suite;
  if (!values.model || !suiteVersionId || !values.candidate) fail(USAGE);
  const key = process.env.HEARTH_API_KEY;
  if (!key) fail("Set HEARTH_API_KEY to an API key with the runs:read scope.");
  const url = (values.url ?? process.env.HEARTH_URL ?? "http://localhost:3000").replace(/\/$/, "");
  const report = await callQuery(url, key, "model.gate", {
    modelId: values.model,
    candidateVersionId: values.candidate,
    suiteVersionId,
    ...(values.baseline ? { baseline: values.baseline } : {}),
  });
  // A gate with nothing to check passes nothing (older servers answered it as passed).
  if (!report.checks?.length) fail("Gate not evaluable: the suite has no thresholds, so there is nothing to check.");
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`Gate ${report.pass ? "PASSED" : "FAILED"}: candidate pass rate ${percent(report.candidate.passRate)} over ${report.candidate.cases} cases` + (report.baseline ? `, baseline ${percent(report.baseline.passRate)}` : ""));
    for (const check of report.checks) {
      console.log(`  ${check.pass ? "ok  " : "FAIL"} ${check.name}: ${percent(check.actual)} (needs ${percent(check.required)}, ${check.cases} cases)`);
    }
    if (report.regressions.length) {
      console.log(`  ${report.regressions.length} case(s) regressed against the baseline:`);
      for (const r of report.regressions.slice(0, 50)) console.log(`    ${r.caseId}: ${r.baselineScore.toFixed(2)} -> ${r.candidateScore.toFixed(2)}`);
    }
  }
  process.exit(report.pass ? 0 : 1);
}

async function node(argv) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: path.join(root, "tsconfig.json") });
  const { runNodeCommand } = await import(pathToFileURL(path.join(root, "node-agent", "main.ts")).href);
  process.exit(await runNodeCommand(argv));
}

const [command, ...rest] = process.argv.slice(2);
if (command === "gate") await gate(rest).catch((error) => fail(error.message));
else if (command === "node") await node(rest);
else fail(USAGE);
