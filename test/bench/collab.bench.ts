// Live co-editing under load: 50 y-websocket clients on one policy, each making 10 edits/s, against
// the real server process. Measures the latency from an edit to its arrival at every other client
// (p50/p99 over all edit x receiver pairs), the server's CPU and memory, and the load time of a
// suite document with 10,000 cases. The clients run in this process, on the same cores as the server.
// Environment: BENCH_COLLAB_SECONDS (default 30), BENCH_COLLAB_CLIENTS (default 50),
// BENCH_COLLAB_POSTGRES=0 skips the real-PostgreSQL run.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { buildIfStale } from "../../scripts/build";
import { startAppProcess } from "../support/app-server";
import { startPostgresCluster, freePort } from "../support/postgres";
import { signInOverHttp, trpcHttp } from "../support/http";
import { webSocketWithHeaders } from "../support/collab";

const CLIENTS = Number(process.env.BENCH_COLLAB_CLIENTS ?? 50);
const EDITS_PER_SECOND = 10;
const SECONDS = Number(process.env.BENCH_COLLAB_SECONDS ?? 30);
const LOAD_CASES = 10_000;
const LOAD_SAMPLES = 5;
const GOAL_P99_MS = 100;
const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

/** A marker per edit: client index and sequence number, recognisable inside any inserted text. */
const MARKER = /<(\d+)\.(\d+)>/g;

function quantile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

interface ProcessSample {
  cpuTicks: number;
  rssKb: number;
  peakRssKb: number;
}

function sampleProcess(pid: number): ProcessSample {
  // Fields after the parenthesised command name: utime and stime are the 14th and 15th of the line.
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  return { cpuTicks: Number(fields[11]) + Number(fields[12]), rssKb: kb("VmRSS"), peakRssKb: kb("VmHWM") };
}

function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** The server's own pid: startAppProcess spawns tsx, which runs server/main.ts in a child of its own. */
function findServerPid(): number {
  const cmdline = (pid: number) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    } catch {
      return "";
    }
  };
  for (const wrapper of childrenOf(process.pid).filter((pid) => cmdline(pid).includes("tsx"))) {
    const server = childrenOf(wrapper).find((pid) => cmdline(pid).includes("server/main.ts"));
    if (server) return server;
  }
  throw new Error("Could not find the server process below this one");
}

interface Client {
  doc: Y.Doc;
  provider: WebsocketProvider;
  synced: Promise<void>;
}

function connect(wsUrl: string, docName: string, headers: Record<string, string>): Client {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(wsUrl, docName, doc, {
    WebSocketPolyfill: webSocketWithHeaders(headers) as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  const synced = new Promise<void>((resolve) => provider.once("sync", () => resolve()));
  return { doc, provider, synced };
}

function disconnect(client: Client): void {
  client.provider.destroy();
  client.doc.destroy();
}

function benchCase(i: number) {
  return {
    id: `case-${i}`,
    input: `Customer ${i} asks whether a refund is possible after ${i % 90} days.`,
    expected: i % 90 > 30 ? "No" : "Yes",
    graders: [{ type: "contains", values: [i % 90 > 30 ? "no" : "yes"], mode: "any", caseInsensitive: true }],
    tags: ["refunds", `bucket-${i % 10}`],
    clauses: ["c-refund-window"],
  };
}

interface Result {
  label: string;
  edits: number;
  pairs: number;
  missing: number;
  p50: number;
  p99: number;
  max: number;
  editsPerSecond: number;
  serverCpuPercent: number;
  benchCpuPercent: number;
  wallSeconds: number;
  clientLoopDelayP99Ms: number;
  loadAverage: [number, number];
  rssBeforeMb: number;
  rssAfterMb: number;
  peakRssMb: number;
  loadColdMs: number;
  loadWarmP50Ms: number;
}

async function measure(label: string, env: Record<string, string>): Promise<Result> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-collab-"));
  const app = await startAppProcess({ port: await freePort(), dataDir, env });
  const clients: Client[] = [];
  try {
    const serverPid = findServerPid();
    const email = `bench-${Date.now()}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Bench", password: "bench-password-123" });
    const cookie = await signInOverHttp(app.url, email, "bench-password-123");
    const call = async (procedure: string, input: unknown) => {
      const response = await trpcHttp(app.url, "mutation", procedure, input, { cookie });
      if (response.status !== 200) throw new Error(`${procedure}: ${JSON.stringify(response.body)}`);
      return response.body.result.data.json;
    };
    const org = await call("org.create", { name: "Bench" });
    const project = await call("project.create", { orgId: org.id, name: "Bench" });
    const policy = await call("policy.create", { projectId: project.id, key: "refunds", title: "Refunds", draft: "# Refunds\n\n" });
    const wsUrl = `${app.url.replace(/^http/, "ws")}/yjs`;
    const headers = { cookie, origin: app.url };

    // 50 clients on one policy; each remembers when it saw each other client's edit.
    const docName = `policy:${policy.id}`;
    const sentAt = new Map<string, number>();
    const latencies: number[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const client = connect(wsUrl, docName, headers);
      const me = String(i);
      // Read the markers from the update itself: a Y.Text event's delta walks the whole text, which
      // at 50 documents x 490 remote edits/s would make the clients, not the server, the bottleneck.
      client.doc.on("update", (update: Uint8Array, origin: unknown) => {
        if (origin === null) return; // this client's own edit
        const now = performance.now();
        for (const struct of Y.decodeUpdate(update).structs) {
          if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentString)) continue;
          for (const match of struct.content.str.matchAll(MARKER)) {
            if (match[1] === me) continue;
            const sent = sentAt.get(`${match[1]}.${match[2]}`);
            if (sent !== undefined) latencies.push(now - sent);
          }
        }
      });
      clients.push(client);
    }
    await Promise.all(clients.map((c) => c.synced));

    const before = sampleProcess(serverPid);
    const benchCpuBefore = process.cpuUsage();
    const loadBefore = os.loadavg()[0];
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const t0 = performance.now();
    let edits = 0;
    const timers: NodeJS.Timeout[] = [];
    await new Promise<void>((resolve) => {
      clients.forEach((client, i) => {
        let seq = 0;
        const text = client.doc.getText("content");
        // Spread the clients' ticks over the interval, as independent people would be.
        const start = setTimeout(() => {
          timers.push(
            setInterval(() => {
              if (performance.now() - t0 >= SECONDS * 1000) return;
              const marker = `<${i}.${seq++}>`;
              sentAt.set(`${i}.${seq - 1}`, performance.now());
              text.insert(Math.floor(Math.random() * (text.length + 1)), marker);
              edits++;
            }, 1000 / EDITS_PER_SECOND),
          );
        }, Math.random() * (1000 / EDITS_PER_SECOND));
        timers.push(start);
      });
      setTimeout(resolve, SECONDS * 1000 + 50);
    });
    const editSeconds = (performance.now() - t0) / 1000;
    loopDelay.disable();
    for (const timer of timers) clearInterval(timer);
    // Let the last edits arrive everywhere.
    const expected = edits * (CLIENTS - 1);
    const deadline = performance.now() + 10_000;
    while (latencies.length < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const after = sampleProcess(serverPid);
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const wall = (performance.now() - t0) / 1000;
    const sorted = Float64Array.from(latencies).sort();
    for (const client of clients.splice(0)) disconnect(client);

    // Load time of a suite with 10,000 cases: first open (the server loads it from the database), then warm.
    const suite = await call("suite.create", { projectId: project.id, name: "Big suite" });
    await call("suite.setCases", { suiteId: suite.id, cases: Array.from({ length: LOAD_CASES }, (_, i) => benchCase(i)) });
    const loadTimes: number[] = [];
    for (let i = 0; i < LOAD_SAMPLES + 1; i++) {
      const l0 = performance.now();
      const client = connect(wsUrl, `suite:${suite.id}`, headers);
      await client.synced;
      loadTimes.push(performance.now() - l0);
      const count = client.doc.getArray("cases").length;
      disconnect(client);
      if (count !== LOAD_CASES) throw new Error(`the suite loaded with ${count} cases, expected ${LOAD_CASES}`);
    }
    const warm = Float64Array.from(loadTimes.slice(1)).sort();

    return {
      label,
      edits,
      pairs: latencies.length,
      missing: expected - latencies.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? NaN,
      editsPerSecond: edits / editSeconds,
      serverCpuPercent: ((after.cpuTicks - before.cpuTicks) / CLOCK_TICKS_PER_SECOND / wall) * 100,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100,
      wallSeconds: wall,
      clientLoopDelayP99Ms: loopDelay.percentile(99) / 1e6,
      loadAverage: [loadBefore, os.loadavg()[0]],
      rssBeforeMb: before.rssKb / 1024,
      rssAfterMb: after.rssKb / 1024,
      peakRssMb: after.peakRssKb / 1024,
      loadColdMs: loadTimes[0],
      loadWarmP50Ms: quantile(warm, 0.5),
    };
  } finally {
    for (const client of clients) disconnect(client);
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

function printTable(results: Result[]): void {
  const rows: [string, (r: Result) => string][] = [
    ["edits sent (achieved rate)", (r) => `${r.edits} (${r.editsPerSecond.toFixed(0)}/s)`],
    ["deliveries measured (missing)", (r) => `${r.pairs} (${r.missing})`],
    ["edit -> other client p50", (r) => `${r.p50.toFixed(1)} ms`],
    [`edit -> other client p99 (goal < ${GOAL_P99_MS} ms)`, (r) => `${r.p99.toFixed(1)} ms ${r.p99 < GOAL_P99_MS ? "MET" : "MISSED"}`],
    ["edit -> other client max", (r) => `${r.max.toFixed(0)} ms`],
    ["server CPU (% of one core)", (r) => `${r.serverCpuPercent.toFixed(0)} %`],
    ["clients' CPU (this process)", (r) => `${r.benchCpuPercent.toFixed(0)} %`],
    ["clients' CPU per delivery", (r) => `${((r.benchCpuPercent / 100) * r.wallSeconds * 1e6 / Math.max(1, r.pairs)).toFixed(0)} µs`],
    ["clients' event-loop delay p99", (r) => `${r.clientLoopDelayP99Ms.toFixed(0)} ms`],
    ["machine load average, 1 min (before, after)", (r) => `${r.loadAverage[0].toFixed(1)}, ${r.loadAverage[1].toFixed(1)}`],
    ["server RSS before -> after (peak)", (r) => `${r.rssBeforeMb.toFixed(0)} -> ${r.rssAfterMb.toFixed(0)} MB (${r.peakRssMb.toFixed(0)})`],
    [`load ${LOAD_CASES.toLocaleString("en-US")} cases: first open`, (r) => `${r.loadColdMs.toFixed(0)} ms`],
    [`load ${LOAD_CASES.toLocaleString("en-US")} cases: loaded, p50 of ${LOAD_SAMPLES}`, (r) => `${r.loadWarmP50Ms.toFixed(0)} ms`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`${"".padEnd(width)}  ${results.map((r) => r.label.padEnd(26)).join("")}`);
  for (const [name, cell] of rows) console.log(`${name.padEnd(width)}  ${results.map((r) => cell(r).padEnd(26)).join("")}`);
}

export async function runCollabBench(): Promise<void> {
  buildIfStale({ quiet: true });
  console.log(
    `${CLIENTS} clients on one policy, ${EDITS_PER_SECOND} edits/s each for ${SECONDS} s, over loopback. Goal: p99 under ${GOAL_P99_MS} ms.\n` +
      `The clients run in this process on the same ${os.cpus().length} cores as the server, so both compete for CPU\n` +
      "(and with anything else running: a load average above the core count means the figures are CPU-starved).",
  );
  process.setMaxListeners(CLIENTS + 20); // every y-websocket provider listens for the process's exit
  const results: Result[] = [await measure("embedded (PGlite)", {})];
  if (process.env.BENCH_COLLAB_POSTGRES !== "0") {
    const cluster = await startPostgresCluster();
    if (cluster) {
      try {
        results.push(await measure(`PostgreSQL ${cluster.version}`, { DATABASE_URL: cluster.url }));
      } finally {
        await cluster.stop();
      }
    } else {
      console.log("PostgreSQL server binaries not found: skipping the real-server measurement.");
    }
  }
  printTable(results);
}
