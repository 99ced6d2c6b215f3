// The node job queue with 4 node processes, Hearth as a real server process.
//  A. Queue capacity, no GPU: 4 light worker processes (queue-worker.ts) lease EVAL jobs and complete
//     each at once, on PostgreSQL and on the embedded database: jobs/s, lease call latency.
//  B. Real `hearth node` processes (SwiftShader): a tiny model is trained on a node, then tiny eval
//     jobs run on the 4 nodes, one at a time (pickup: created -> leased while the nodes idle and poll
//     every second; lease-to-start: leased -> the job's first case result stored), then in a burst (jobs/s).
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildIfStale, rootDir } from "../../scripts/build";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { freePort, startPostgresCluster } from "../support/postgres";
import { signInOverHttp, trpcHttp } from "../support/http";
import { startNodeProcess } from "../support/nodes";

const LIGHT_JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 400);
const NODE_JOBS = Number(process.env.BENCH_QUEUE_NODE_JOBS ?? 16);
const WORKERS = 4;

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const ms = (v: number) => `${v.toFixed(0)} ms`;

async function setUp(app: AppProcess) {
  const email = `bench-${Date.now()}@example.test`;
  await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Bench", password: "bench-password-123" });
  const headers = { cookie: await signInOverHttp(app.url, email, "bench-password-123") };
  const call = async (procedure: string, input: unknown, kind: "query" | "mutation" = "mutation") => {
    const response = await trpcHttp(app.url, kind, procedure, input, headers);
    if (response.status !== 200) throw new Error(`${procedure}: ${JSON.stringify(response.body)}`);
    return response.body.result.data.json;
  };
  const org = await call("org.create", { name: "Bench" });
  const project = await call("project.create", { orgId: org.id, name: "Bench" });
  const suite = await call("suite.create", { projectId: project.id, name: "bench" });
  await call("suite.setCases", { suiteId: suite.id, cases: [{ id: "c1", input: "The refund window is", expected: "thirty", graders: [{ type: "contains", values: ["thirty"] }], tags: [], clauses: [] }] });
  const version = await call("suite.publish", { suiteId: suite.id, message: "bench" });
  const { secret } = await call("node.createToken", { orgId: org.id, name: "bench" });
  return { call, orgId: org.id as string, projectId: project.id as string, suiteVersionId: version.id as string, token: secret as string, headers };
}

async function lightWorkers(app: AppProcess, token: string): Promise<{ leaseMs: number[]; completeMs: number[]; seconds: number }> {
  const children = Array.from({ length: WORKERS }, (_, i) =>
    spawn(process.execPath, [path.join(rootDir, "node_modules", "tsx", "dist", "cli.mjs"), "test/bench/queue-worker.ts", app.url, token, `light-${i}`], { cwd: rootDir, stdio: ["pipe", "pipe", "inherit"] }),
  );
  const outputs = children.map((child) => {
    let out = "";
    child.stdout!.on("data", (c) => (out += c));
    return { ready: () => out.includes("ready"), done: new Promise<string>((resolve) => child.once("exit", () => resolve(out))) };
  });
  while (!outputs.every((o) => o.ready())) await new Promise((r) => setTimeout(r, 50));
  const t0 = performance.now();
  for (const child of children) child.stdin!.write("go\n");
  const results = (await Promise.all(outputs.map((o) => o.done))).map((out) => JSON.parse(out.trim().split("\n").at(-1)!) as { leaseMs: number[]; completeMs: number[] });
  // Each worker waits about 300 ms of empty polls before it stops.
  const seconds = (performance.now() - t0 - 300) / 1000;
  return { leaseMs: results.flatMap((r) => r.leaseMs), completeMs: results.flatMap((r) => r.completeMs), seconds };
}

async function benchLight(label: string, env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-queue-"));
  const app = await startAppProcess({ port: await freePort(), dataDir, env: { HEARTH_SEED_DEMO: "0", ...env } });
  try {
    const s = await setUp(app);
    for (let i = 0; i < LIGHT_JOBS; i++) await s.call("run.create", { projectId: s.projectId, kind: "EVAL", target: "NODE", suiteVersionId: s.suiteVersionId });
    const r = await lightWorkers(app, s.token);
    console.log(
      `${label}: ${r.leaseMs.length} jobs leased and completed by ${WORKERS} worker processes in ${r.seconds.toFixed(1)} s = ${(r.leaseMs.length / r.seconds).toFixed(0)} jobs/s; ` +
        `lease call p50 ${ms(quantile(r.leaseMs, 0.5))} p95 ${ms(quantile(r.leaseMs, 0.95))}; complete call p50 ${ms(quantile(r.completeMs, 0.5))} p95 ${ms(quantile(r.completeMs, 0.95))}`,
    );
  } finally {
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchNodes(env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-queue-nodes-"));
  const app = await startAppProcess({ port: await freePort(), dataDir, env: { HEARTH_SEED_DEMO: "0", ...env } });
  const nodes = Array.from({ length: WORKERS }, () => null as ReturnType<typeof startNodeProcess> | null);
  try {
    const s = await setUp(app);
    const started = performance.now();
    for (let i = 0; i < WORKERS; i++) nodes[i] = startNodeProcess({ serverUrl: app.url, token: s.token, name: `gpu-${i}`, args: ["--no-serve"] });
    await Promise.all(nodes.map((n) => n!.waitFor(/registered with/, 300_000)));
    console.log(`4 hearth node processes registered in ${((performance.now() - started) / 1000).toFixed(1)} s (Dawn start and kernel autotuning on SwiftShader)`);
    const waitFinished = async (ids: string[]) => {
      for (;;) {
        const runs = await Promise.all(ids.map((id) => s.call("run.get", { runId: id }, "query")));
        if (runs.every((r) => ["SUCCEEDED", "FAILED", "CANCELLED"].includes(r.status))) return runs;
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // A dataset and a tiny model trained on a node, for the eval jobs to load.
    const dataset = await s.call("dataset.create", { projectId: s.projectId, name: "corpus", kind: "CORPUS" });
    const upload = await fetch(`${app.url}/api/datasets/${dataset.id}/versions`, { method: "POST", headers: s.headers, body: "The refund window is thirty days. ".repeat(100) });
    const datasetVersion = (await upload.json()) as { id: string };
    const model = await s.call("model.create", { projectId: s.projectId, name: "tiny" });
    const train = await s.call("run.create", { projectId: s.projectId, kind: "PRETRAIN", target: "NODE", datasetVersionId: datasetVersion.id, config: { kind: "PRETRAIN", preset: "tiny", steps: 10, batchSize: 4, lr: 0.01, seqLen: 32, checkpointEvery: 10, modelId: model.id } });
    const [trained] = await waitFinished([train.id]);
    if (trained.status !== "SUCCEEDED") throw new Error(`training failed: ${trained.error}`);
    const modelVersionId = (trained.summary as { modelVersionId: string }).modelVersionId;
    const evalJob = async () => (await s.call("run.create", { projectId: s.projectId, kind: "EVAL", target: "NODE", suiteVersionId: s.suiteVersionId, modelVersionId, config: { maxTokens: 4 } })).id as string;
    const timings = async (runs: Array<{ id: string; createdAt: string; startedAt: string }>) => {
      const waits: number[] = [];
      const starts: number[] = [];
      for (const run of runs) {
        const results = await s.call("run.results", { runId: run.id }, "query");
        const leased = new Date(run.startedAt).getTime();
        waits.push(leased - new Date(run.createdAt).getTime());
        starts.push(Math.min(...results.items.map((r: { createdAt: string }) => new Date(r.createdAt).getTime())) - leased);
      }
      return `queue wait (created -> leased) p50 ${ms(quantile(waits, 0.5))} p95 ${ms(quantile(waits, 0.95))}; lease-to-start (leased -> first case result) p50 ${ms(quantile(starts, 0.5))} p95 ${ms(quantile(starts, 0.95))}`;
    };
    // Warm every node's model path once (download + load; later jobs of the version reuse it).
    const warm = [];
    for (let i = 0; i < WORKERS; i++) warm.push(await evalJob());
    await waitFinished(warm);
    // One job at a time, all nodes idle and polling: the pickup latency.
    const single = [];
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 1500));
      single.push(...(await waitFinished([await evalJob()])));
    }
    console.log(`real nodes, one job at a time (nodes idle, polling every ~1 s): ${await timings(single)}`);
    // A burst: jobs/s with 4 nodes.
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = performance.now();
    const ids: string[] = [];
    for (let i = 0; i < NODE_JOBS; i++) ids.push(await evalJob());
    const runs = await waitFinished(ids);
    const seconds = (performance.now() - t0) / 1000;
    const failed = runs.filter((r) => r.status !== "SUCCEEDED").length;
    console.log(`real nodes, a burst: ${NODE_JOBS} tiny eval jobs (1 case, 4 tokens) on 4 nodes in ${seconds.toFixed(1)} s = ${(NODE_JOBS / seconds).toFixed(2)} jobs/s${failed ? ` (${failed} failed)` : ""}; ${await timings(runs)}`);
  } finally {
    await Promise.allSettled(nodes.map((n) => n?.kill("SIGTERM")));
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runQueueBench(): Promise<void> {
  buildIfStale({ quiet: true });
  const cluster = await startPostgresCluster();
  try {
    if (cluster) await benchLight("PostgreSQL", { DATABASE_URL: cluster.url });
    else console.log("PostgreSQL: skipped (no server binaries)");
    await benchLight("embedded PGlite", {});
    await benchNodes(cluster ? { DATABASE_URL: cluster.url } : {});
  } finally {
    await cluster?.stop();
  }
}
