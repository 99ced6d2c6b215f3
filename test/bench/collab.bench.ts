// Live co-editing under load: 50 y-websocket clients on one policy, each making 10 edits/s, against
// the real server process. Measures the latency from an edit to its arrival at every other client
// (p50/p99 over all edit x receiver pairs), the server's CPU and memory (and PostgreSQL's CPU on the
// real-server run), and the load time of a suite document with 10,000 cases.
// The clients run in worker threads of this process (collab-clients.worker.ts), so no single event
// loop queues the 24,500 deliveries a second; each worker's clock offset to the main thread is
// measured (round trips, the one with the smallest delay wins) and every time is on the main clock.
// Everything still shares the machine's cores with the server (and the database).
// Environment: BENCH_COLLAB_SECONDS (default 30), BENCH_COLLAB_CLIENTS (default 50),
// BENCH_COLLAB_WORKERS (default 5), BENCH_COLLAB_POSTGRES=0 skips the real-PostgreSQL run,
// BENCH_COLLAB_EMBEDDED=0 skips the embedded one; BENCH_COLLAB_URL and BENCH_COLLAB_SERVER_PID measure a
// server that is already running (one run, labelled "external").
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { buildIfStale } from "../../scripts/build";
import { startAppProcess } from "../support/app-server";
import { startPostgresCluster, freePort } from "../support/postgres";
import { signInOverHttp, trpcHttp } from "../support/http";
import { webSocketWithHeaders } from "../support/collab";
import type { FromWorker, ToWorker, WorkerSetup } from "./collab-clients.worker";

const CLIENTS = Number(process.env.BENCH_COLLAB_CLIENTS ?? 50);
const WORKERS = Math.max(1, Math.min(CLIENTS, Number(process.env.BENCH_COLLAB_WORKERS ?? 5)));
const EDITS_PER_SECOND = 10;
const SECONDS = Number(process.env.BENCH_COLLAB_SECONDS ?? 30);
const LOAD_CASES = 10_000;
const LOAD_SAMPLES = 5;
const GOAL_P99_MS = 100;
const CLOCK_TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux

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

const mainNow = () => performance.timeOrigin + performance.now();

/**
 * A worker thread running a TypeScript module. Workers do not inherit tsx's loader from the command
 * line (Node 20), so a small ESM entry registers it first.
 */
function typeScriptWorker(module: URL, workerData: unknown): Worker {
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve("tsx/esm/api")).href.replace(/\.cjs$/, ".mjs");
  const entry = `import { register } from ${JSON.stringify(tsxApi)}; register(); await import(${JSON.stringify(module.href)});`;
  return new Worker(new URL(`data:text/javascript,${encodeURIComponent(entry)}`), { workerData });
}

/** A worker thread of clients, with typed messages and a clock-offset measurement. */
class BenchWorker {
  private readonly queue: FromWorker[] = [];
  private waiting: { type: FromWorker["type"]; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(readonly worker: Worker) {
    worker.on("message", (message: FromWorker) => {
      if (message.type === "error") return this.fail(new Error(`client worker: ${message.message}`));
      this.queue.push(message);
      this.deliver();
    });
    worker.on("error", (error) => this.fail(error));
  }

  private fail(error: Error) {
    this.failure = error;
    this.waiting?.reject(error);
    this.waiting = null;
  }

  private deliver() {
    if (!this.waiting) return;
    const index = this.queue.findIndex((m) => m.type === this.waiting!.type);
    if (index < 0) return;
    const [message] = this.queue.splice(index, 1);
    const { resolve } = this.waiting;
    this.waiting = null;
    resolve(message);
  }

  next<T extends FromWorker["type"]>(type: T): Promise<Extract<FromWorker, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { type, resolve: resolve as (m: FromWorker) => void, reject };
      this.deliver();
    });
  }

  post(message: ToWorker) {
    this.worker.postMessage(message);
  }

  /**
   * The worker's clock minus the main thread's (both performance.timeOrigin + performance.now()):
   * from the round trip with the smallest delay, assuming it was symmetric. Tells the worker too.
   */
  async measureOffset(rounds = 40): Promise<number> {
    let best = { rtt: Infinity, offset: 0 };
    for (let i = 0; i < rounds; i++) {
      const sentAt = mainNow();
      this.post({ type: "ping", sentAt });
      const pong = await this.next("pong");
      const back = mainNow();
      if (back - sentAt < best.rtt) best = { rtt: back - sentAt, offset: pong.workerNow - (sentAt + back) / 2 };
    }
    this.post({ type: "offset", offsetMs: best.offset });
    return best.offset;
  }

  async terminate() {
    await this.worker.terminate();
  }
}

/** utime + stime of a process and all its descendants (PostgreSQL: the postmaster and its backends). */
function treeCpuTicks(pid: number): number {
  let ticks = 0;
  try {
    ticks = sampleProcess(pid).cpuTicks;
  } catch {
    return 0; // exited meanwhile
  }
  return ticks + childrenOf(pid).reduce((sum, child) => sum + treeCpuTicks(child), 0);
}

/** The postmaster listening on `port` (its command line carries `-p <port>`). */
function findPostmasterPid(port: number): number | null {
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (/postgres$/.test(cmdline[0]) && cmdline.some((arg, i) => arg === "-p" && cmdline[i + 1] === String(port))) return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return null;
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
  postgresCpuPercent: number | null;
  benchCpuPercent: number;
  wallSeconds: number;
  clientLoopDelayP99Ms: number;
  clockOffsetMaxMs: number;
  loadAverage: [number, number];
  rssBeforeMb: number;
  rssAfterMb: number;
  peakRssMb: number;
  loadColdMs: number;
  loadWarmP50Ms: number;
}

async function measure(label: string, env: Record<string, string>): Promise<Result> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-collab-"));
  // BENCH_COLLAB_URL + BENCH_COLLAB_SERVER_PID: measure a server started by hand (say, under --cpu-prof).
  const external = process.env.BENCH_COLLAB_URL;
  const app = external ? { url: external, stop: async () => null } : await startAppProcess({ port: await freePort(), dataDir, env });
  const clients: Client[] = [];
  const workers: BenchWorker[] = [];
  try {
    const serverPid = external ? Number(process.env.BENCH_COLLAB_SERVER_PID) : findServerPid();
    const postgresPid = env.DATABASE_URL ? findPostmasterPid(Number(new URL(env.DATABASE_URL).port)) : null;
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

    // The clients, spread over worker threads; each worker's clock offset measured before any load.
    const docName = `policy:${policy.id}`;
    const spread = Array.from({ length: WORKERS }, (_, w) => Array.from({ length: CLIENTS }, (_, i) => i).filter((i) => i % WORKERS === w));
    for (const share of spread) {
      const setup: WorkerSetup = { wsUrl, docName, headers, clients: share, editsPerSecond: EDITS_PER_SECOND, seconds: SECONDS };
      workers.push(new BenchWorker(typeScriptWorker(new URL("./collab-clients.worker.ts", import.meta.url), setup)));
    }
    const offsets: number[] = [];
    for (const worker of workers) offsets.push(await worker.measureOffset());
    await Promise.all(workers.map((w) => w.next("ready")));

    const before = sampleProcess(serverPid);
    const pgBefore = postgresPid ? treeCpuTicks(postgresPid) : 0;
    const benchCpuBefore = process.cpuUsage();
    const loadBefore = os.loadavg()[0];
    const startAt = mainNow() + 300;
    for (const worker of workers) worker.post({ type: "start", atMainMs: startAt });
    const edited = await Promise.all(workers.map((w) => w.next("edited")));
    const editSeconds = (mainNow() - startAt) / 1000;
    const editsByClient = Object.assign({}, ...edited.map((e) => e.editsByClient)) as Record<number, number>;
    const edits = Object.values(editsByClient).reduce((a, b) => a + b, 0);
    // Let the last edits arrive everywhere.
    for (const worker of workers) worker.post({ type: "drain", editsByClient, timeoutMs: 10_000 });
    const done = await Promise.all(workers.map((w) => w.next("done")));
    const after = sampleProcess(serverPid);
    const pgAfter = postgresPid ? treeCpuTicks(postgresPid) : 0;
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const wall = (mainNow() - startAt) / 1000;
    const sorted = new Float64Array(done.reduce((n, d) => n + d.latencies.length, 0));
    let at = 0;
    for (const d of done) {
      sorted.set(d.latencies, at);
      at += d.latencies.length;
    }
    sorted.sort();
    const received = done.reduce((n, d) => n + d.received, 0);
    const expected = done.reduce((n, d) => n + d.expected, 0);
    await Promise.all(workers.splice(0).map((w) => w.terminate()));

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
      pairs: received,
      missing: expected - received,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? NaN,
      editsPerSecond: edits / editSeconds,
      serverCpuPercent: ((after.cpuTicks - before.cpuTicks) / CLOCK_TICKS_PER_SECOND / wall) * 100,
      postgresCpuPercent: postgresPid ? ((pgAfter - pgBefore) / CLOCK_TICKS_PER_SECOND / wall) * 100 : null,
      benchCpuPercent: ((benchCpu.user + benchCpu.system) / 1e6 / wall) * 100,
      wallSeconds: wall,
      clientLoopDelayP99Ms: Math.max(...done.map((d) => d.loopDelayP99Ms)),
      clockOffsetMaxMs: Math.max(...offsets.map(Math.abs)),
      loadAverage: [loadBefore, os.loadavg()[0]],
      rssBeforeMb: before.rssKb / 1024,
      rssAfterMb: after.rssKb / 1024,
      peakRssMb: after.peakRssKb / 1024,
      loadColdMs: loadTimes[0],
      loadWarmP50Ms: quantile(warm, 0.5),
    };
  } finally {
    for (const client of clients) disconnect(client);
    await Promise.all(workers.map((w) => w.terminate()));
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
    ["server process CPU (% of one core)", (r) => `${r.serverCpuPercent.toFixed(0)} %`],
    ["PostgreSQL processes CPU", (r) => (r.postgresCpuPercent === null ? "in the server process" : `${r.postgresCpuPercent.toFixed(0)} %`)],
    [`clients' CPU (${WORKERS} worker threads)`, (r) => `${r.benchCpuPercent.toFixed(0)} %`],
    ["clients' CPU per delivery", (r) => `${((r.benchCpuPercent / 100) * r.wallSeconds * 1e6 / Math.max(1, r.pairs)).toFixed(0)} µs`],
    ["clients' event-loop delay p99 (worst worker)", (r) => `${r.clientLoopDelayP99Ms.toFixed(0)} ms`],
    ["clock offset to workers (largest, corrected)", (r) => `${r.clockOffsetMaxMs.toFixed(2)} ms`],
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
      `The clients run in ${WORKERS} worker threads of this process on the same ${os.cpus().length} cores as the server and the database,\n` +
      "so all compete for CPU (and with anything else running: a load average above the core count means CPU-starved figures).",
  );
  process.setMaxListeners(CLIENTS + 20); // every y-websocket provider listens for the process's exit
  const results: Result[] = [];
  if (process.env.BENCH_COLLAB_URL) {
    printTable([await measure("external", {})]);
    return;
  }
  if (process.env.BENCH_COLLAB_EMBEDDED !== "0") results.push(await measure("embedded (PGlite)", {}));
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
