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
       hearth model push <folder> --model <model id> [--parent <model version id>] [--url <Hearth URL>]
       hearth model pull <model version id> <folder> [--url <Hearth URL>]
       hearth backup [--out <file.tar>]  |  hearth restore <file.tar>           (hearth backup --help)
       hearth reset-password <email>   (a new random password, printed once; ends the account's sessions)
       hearth mcp [--url <Hearth URL>]  (an MCP server on stdin/stdout for local agents, relayed to <URL>/mcp)

Environment: HEARTH_API_KEY (an API key: for gate, with the runs:read scope; for mcp, ideally an agent key),
HEARTH_URL (default http://localhost:3000).
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
    // Is the difference from the baseline real? McNemar's exact test and a paired bootstrap interval.
    if (report.significance) console.log(`  against the baseline: ${report.significance.summary}`);
    // The judges whose verdicts were counted: calibrated against people, or counted by the suite's choice.
    for (const j of report.judges ?? []) {
      console.log(`  judge "${j.name}" (${j.cases} ${j.run} cases): ${j.calibrated ? "calibrated against people" : `NOT calibrated (${j.reason}), counted because the suite's gate counts uncalibrated judges`}`);
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

async function backupOrRestore(command, argv) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: path.join(root, "tsconfig.json") });
  const { runBackupCommand } = await import(pathToFileURL(path.join(root, "scripts", "backup-cli.ts")).href);
  process.exit(await runBackupCommand(command, argv));
}

// `hearth model push|pull`: a Hugging Face folder in as a model version, or a version out as a folder.
// Each file is hashed and sent on its own; running push again after an interruption sends only what
// has not arrived.
async function walkFolder(root) {
  const { readdir, stat } = await import("node:fs/promises");
  const out = [];
  async function walk(dir, prefix) {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith(".")) continue; // .git, .cache, .DS_Store
      const full = path.join(dir, entry.name);
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(full, rel);
      else if (entry.isFile()) out.push({ path: rel, full, size: (await stat(full)).size });
    }
  }
  await walk(root, "");
  return out;
}

async function sha256File(file) {
  const { createHash } = await import("node:crypto");
  const { createReadStream } = await import("node:fs");
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest("hex");
}

async function callApi(url, key, method, apiPath, body, headers = {}) {
  const response = await fetch(`${url}${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...headers },
    body,
    ...(body && typeof body !== "string" ? { duplex: "half" } : {}),
  }).catch((error) => fail(`Cannot reach Hearth at ${url}: ${error.cause?.message ?? error.message}`));
  const json = await response.json().catch(() => null);
  if (!response.ok) fail(`Hearth refused ${method} ${apiPath} (HTTP ${response.status}): ${json?.error?.message ?? "no details"}`);
  return json;
}

const mb = (n) => `${(n / 1e6).toFixed(1)} MB`;

async function model(argv) {
  const [sub, ...args] = argv;
  const { values, positionals } = parseArgs({ args, options: { model: { type: "string" }, parent: { type: "string" }, url: { type: "string" } }, allowPositionals: true, strict: true });
  const key = process.env.HEARTH_API_KEY;
  if (!key) fail("Set HEARTH_API_KEY to an API key with the models:write (push) or models:read (pull) scope.");
  const url = (values.url ?? process.env.HEARTH_URL ?? "http://localhost:3000").replace(/\/$/, "");
  if (sub === "push") {
    if (positionals.length !== 1 || !values.model) fail(USAGE);
    const { stat } = await import("node:fs/promises");
    const where = await stat(path.resolve(positionals[0])).catch(() => null);
    if (!where) fail(`${positionals[0]} does not exist: give the folder save_pretrained wrote.`);
    if (!where.isDirectory()) fail(`${positionals[0]} is a file: give the folder that holds config.json, the tokenizer files and the weights.`);
    const files = await walkFolder(path.resolve(positionals[0]));
    if (!files.length) fail(`${positionals[0]} holds no files.`);
    // checked here too, before hashing gigabytes: the server says the same after the manifest
    if (!files.some((f) => f.path === "config.json")) fail(`${positionals[0]} has no config.json: choose the model's folder itself (the one save_pretrained wrote).`);
    console.log(`Hashing ${files.length} files (${mb(files.reduce((n, f) => n + f.size, 0))})...`);
    for (const f of files) f.sha256 = await sha256File(f.full);
    const manifest = { files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })), ...(values.parent ? { lineage: { parentVersionId: values.parent } } : {}) };
    const base = `/api/models/${encodeURIComponent(values.model)}/uploads`;
    let state = await callApi(url, key, "POST", base, JSON.stringify(manifest), { "content-type": "application/json" });
    const already = files.length - state.missing.length;
    if (already) console.log(`${already} file(s) already on the server; sending ${state.missing.length}.`);
    const { createReadStream } = await import("node:fs");
    const { Readable } = await import("node:stream");
    for (const [i, name] of state.missing.entries()) {
      const f = files.find((x) => x.path === name);
      process.stdout.write(`  [${i + 1}/${state.missing.length}] ${name} (${mb(f.size)})... `);
      const body = Readable.toWeb(createReadStream(f.full));
      await callApi(url, key, "PUT", `${base}/${state.uploadId}/files/${name.split("/").map(encodeURIComponent).join("/")}`, body, { "content-type": "application/octet-stream", "content-length": String(f.size) });
      console.log("ok");
    }
    const version = await callApi(url, key, "POST", `${base}/${state.uploadId}/commit`, "");
    const d = version.description;
    console.log(`Model version v${version.version} (${version.id}): ${d.architecture ?? d.modelType}, ${d.parameters.toLocaleString("en")} parameters, ${d.dtype}, context ${d.contextLength}${d.license ? `, license ${d.license}` : ""}${d.browser ? "" : " (too large for a browser: runs on GPU nodes)"}.`);
    return;
  }
  if (sub === "pull") {
    if (positionals.length !== 2) fail(USAGE);
    const [versionId, dir] = positionals;
    const { mkdir, rename, rm } = await import("node:fs/promises");
    const { createWriteStream } = await import("node:fs");
    const { Readable } = await import("node:stream");
    const { pipeline } = await import("node:stream/promises");
    const { files } = await callApi(url, key, "GET", `/api/model-versions/${encodeURIComponent(versionId)}/files`);
    if (!files.length) fail("This model version is not a Hugging Face folder (a Hearth checkpoint): download it from the model page.");
    for (const f of files) {
      const target = path.join(path.resolve(dir), ...f.path.split("/"));
      await mkdir(path.dirname(target), { recursive: true });
      const response = await fetch(`${url}/api/model-versions/${encodeURIComponent(versionId)}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`, { headers: { authorization: `Bearer ${key}` } });
      if (!response.ok) fail(`Hearth refused ${f.path} (HTTP ${response.status}).`);
      const temp = `${target}.part`;
      await pipeline(Readable.fromWeb(response.body), createWriteStream(temp));
      if ((await sha256File(temp)) !== f.sha256) {
        await rm(temp, { force: true });
        fail(`${f.path} arrived damaged (sha256 differs); run the command again.`);
      }
      await rename(temp, target);
      console.log(`  ${f.path} (${mb(f.size)})`);
    }
    console.log(`Wrote ${files.length} files to ${dir}.`);
    return;
  }
  fail(USAGE);
}

/** A new password for an account, on the database Hearth uses (DATABASE_URL or $HEARTH_DATA_DIR). */
async function resetPassword(argv) {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
  const { register } = await import("tsx/esm/api");
  register({ tsconfig: path.join(root, "tsconfig.json") });
  const { runResetPassword } = await import(pathToFileURL(path.join(root, "scripts", "reset-password.ts")).href);
  process.exit(await runResetPassword(argv));
}

// `hearth mcp`: a local MCP client (an editor's agent) starts this as its stdio server; every message is
// relayed to Hearth's /mcp with the key from HEARTH_API_KEY (never an argument: it would show in `ps`).
// stdout carries only MCP messages; anything for people goes to stderr.
async function mcp(argv) {
  const { values } = parseArgs({ args: argv, options: { url: { type: "string" } }, strict: true });
  const key = process.env.HEARTH_API_KEY;
  if (!key) fail("Set HEARTH_API_KEY to a Hearth API key (an agent key, ideally); it is not taken as an argument.");
  const endpoint = new URL(values.url ?? process.env.HEARTH_URL ?? "http://localhost:3000");
  if (!endpoint.pathname.replace(/\/+$/, "").endsWith("/mcp")) endpoint.pathname = `${endpoint.pathname.replace(/\/+$/, "")}/mcp`;
  const { randomUUID } = await import("node:crypto");
  const { StdioServerTransport } = await import("@modelcontextprotocol/sdk/server/stdio.js");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  // One thread in Hearth's audit log per run of this command.
  const headers = { authorization: `Bearer ${key}`, "x-hearth-agent-session": `stdio-${randomUUID()}` };
  const upstream = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers } });
  const local = new StdioServerTransport();
  local.onmessage = (message) => {
    upstream.send(message).catch((error) => {
      console.error(`[hearth mcp] ${endpoint.href}: ${error.message}`);
      if ("id" in message && "method" in message) void local.send({ jsonrpc: "2.0", id: message.id, error: { code: -32000, message: `Hearth at ${endpoint.origin} refused or could not be reached: ${error.message}` } });
    });
  };
  upstream.onmessage = (message) => void local.send(message);
  upstream.onerror = (error) => console.error(`[hearth mcp] ${error.message}`);
  local.onclose = () => void upstream.close().finally(() => process.exit(0));
  process.stdin.once("end", () => void upstream.close().finally(() => process.exit(0)));
  await upstream.start();
  await local.start();
}

const [command, ...rest] = process.argv.slice(2);
// Asking for the usage is not a mistake: it goes to stdout and the command succeeds.
if (command === "--help" || command === "-h" || command === "help") {
  console.log(USAGE);
  process.exit(0);
} else if (command === "gate") await gate(rest).catch((error) => fail(error.message));
else if (command === "node") await node(rest);
else if (command === "backup" || command === "restore") await backupOrRestore(command, rest);
else if (command === "model") await model(rest).catch((error) => fail(error.message));
else if (command === "reset-password") await resetPassword(rest);
else if (command === "mcp") await mcp(rest).catch((error) => fail(error.message));
else fail(USAGE);
