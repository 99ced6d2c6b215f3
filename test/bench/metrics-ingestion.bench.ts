// Metrics ingestion through the API into PostgreSQL (points/s, batches as a training loop sends them),
// and the run page's metrics query at 100k points (p50/p95). Runs Hearth as a real server process
// against a real PostgreSQL cluster when its binaries exist, and against the embedded database.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { buildIfStale } from "../../scripts/build";
import { startAppProcess } from "../support/app-server";
import { startPostgresCluster, freePort } from "../support/postgres";
import { signInOverHttp, trpcHttp } from "../support/http";

const TOTAL_POINTS = 100_000;
const BATCH = 10_000;
const IN_FLIGHT = 2;
const QUERY_SAMPLES = 20;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(label: string, env: Record<string, string>) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-metrics-"));
  const app = await startAppProcess({ port: await freePort(), dataDir, env });
  try {
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
    const run = await call("run.create", { projectId: project.id, kind: "PRETRAIN", target: "BROWSER" });
    await call("run.transition", { runId: run.id, status: "RUNNING" });

    // Four series (loss, val_loss, lr, tokens_per_s) as a training loop reports them.
    const names = ["loss", "val_loss", "lr", "tokens_per_s"];
    const batches: { name: string; step: number; value: number }[][] = [];
    for (let start = 0; start < TOTAL_POINTS; start += BATCH) {
      const points = [];
      for (let i = start; i < Math.min(TOTAL_POINTS, start + BATCH); i++) {
        points.push({ name: names[i % names.length], step: Math.floor(i / names.length), value: Math.exp(-i / TOTAL_POINTS) + Math.random() * 0.01 });
      }
      batches.push(points);
    }
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < batches.length) await call("run.logMetrics", { runId: run.id, points: batches[next++] });
      }),
    );
    const seconds = (performance.now() - t0) / 1000;

    const latencies: number[] = [];
    for (let i = 0; i < QUERY_SAMPLES; i++) {
      const q0 = performance.now();
      const series = await call("run.metrics", { runId: run.id }, "query");
      latencies.push(performance.now() - q0);
      if (i === 0 && series.reduce((n: number, s: { steps: number[] }) => n + s.steps.length, 0) !== TOTAL_POINTS) throw new Error("not every point was stored");
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `${label.padEnd(22)} ingest ${Math.round(TOTAL_POINTS / seconds).toLocaleString("en-US").padStart(8)} points/s  ` +
        `(${TOTAL_POINTS.toLocaleString("en-US")} points in batches of ${BATCH}, ${IN_FLIGHT} in flight, ${seconds.toFixed(2)} s)   ` +
        `run page query at 100k points: p50 ${quantile(latencies, 0.5).toFixed(0)} ms, p95 ${quantile(latencies, 0.95).toFixed(0)} ms`,
    );
  } finally {
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runMetricsIngestionBench(): Promise<void> {
  buildIfStale({ quiet: true });
  console.log("Goal: at least 20,000 points/s on these 2 cores.");
  const cluster = await startPostgresCluster();
  if (cluster) {
    try {
      await measure(`PostgreSQL ${cluster.version}`, { DATABASE_URL: cluster.url });
    } finally {
      await cluster.stop();
    }
  } else {
    console.log("PostgreSQL server binaries not found: skipping the real-server measurement.");
  }
  await measure("embedded (PGlite)", {});
}
