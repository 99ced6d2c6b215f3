// The dashboard at size: the project dashboard's data query (and the regressions query) on a project with
// 100 model versions x 5 suites x 1,000 cases of eval history, p50/p95 on PostgreSQL and the embedded
// database; and the first-load JavaScript of the dashboard page in Chromium.
// Goal: query p95 under 200 ms; page JS under 300 kB compressed.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { buildIfStale } from "../../scripts/build";
import { createPrismaClient } from "@/server/db/client";
import { startEmbeddedDatabase } from "@/server/db/embedded";
import { applyMigrations } from "@/server/db/migrate";
import { projectDashboard, versionRegressions } from "@/server/dashboards/service";
import { startAppProcess } from "../support/app-server";
import { launchBrowser } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { freePort, startPostgresCluster } from "../support/postgres";
import { generateDashboardHistory, type HistoryShape } from "./dashboard-history";

const SHAPE: HistoryShape = { versions: 100, suites: 5, cases: 1000, clauses: 40, seed: 11 };
const SAMPLES = 20;

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timed(samples: number, fn: () => Promise<unknown>) {
  await fn(); // warm-up: plans and caches, as on a server that has been up a while
  const ms: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return `p50 ${quantile(ms, 0.5).toFixed(0).padStart(5)} ms, p95 ${quantile(ms, 0.95).toFixed(0).padStart(5)} ms`;
}

async function measureQueries(label: string, url: string, samples: number) {
  await applyMigrations(url);
  const db = createPrismaClient(url);
  try {
    const user = await db.user.create({ data: { email: `bench-${Date.now()}@example.test`, name: "Bench" } });
    const org = await db.organization.create({ data: { name: "Bench", slug: `bench-${Date.now()}` } });
    const g0 = performance.now();
    const history = await generateDashboardHistory(db, { orgId: org.id, userId: user.id, now: new Date(), shape: SHAPE });
    const results = await db.evalResult.count({ where: { run: { projectId: history.projectId } } });
    console.log(`${label}: generated ${results.toLocaleString("en-US")} eval results in ${((performance.now() - g0) / 1000).toFixed(0)} s`);
    // As autovacuum leaves a live database: statistics and visibility maps current (index-only scans).
    await db.$executeRawUnsafe("VACUUM ANALYZE");
    const v = history.versionIds;
    console.log(`  machine load average (1 min): ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores`);
    console.log(`  project dashboard, all time              ${await timed(samples, () => projectDashboard(db, history.projectId, { range: "all" }))}`);
    console.log(`  project dashboard, one suite and a tag    ${await timed(samples, () => projectDashboard(db, history.projectId, { range: "90d", suiteId: history.suiteIds[2], tag: "privacy" }))}`);
    console.log(`  regressions between two versions          ${await timed(samples, () => versionRegressions(db, history.projectId, { baseVersionId: v[v.length - 3], candidateVersionId: v[v.length - 1], limit: 50 }))}`);
    console.log(`  machine load average (1 min): ${os.loadavg()[0].toFixed(1)}`);
  } finally {
    await db.$disconnect();
  }
}

async function measurePageWeight() {
  buildIfStale({ quiet: true });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-dashboard-"));
  const app = await startAppProcess({ port: await freePort(), dataDir });
  const browser = await launchBrowser();
  try {
    const email = `bench-${Date.now()}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Bench", password: "bench-password-123" });
    const cookie = await signInOverHttp(app.url, email, "bench-password-123");
    const call = async (procedure: string, input: unknown) => (await trpcHttp(app.url, "mutation", procedure, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Bench" });
    const project = await call("project.create", { orgId: org.id, name: "Bench" });
    const context = await browser.newContext();
    const [name, ...rest] = cookie.split("=");
    await context.addCookies([{ name, value: rest.join("="), url: app.url }]);
    for (const page of [`/orgs/${org.id}/projects/${project.id}/dashboard`, `/orgs/${org.id}/dashboard`]) {
      const tab = await context.newPage();
      const bodies: Buffer[] = [];
      tab.on("response", async (response) => {
        if (response.request().resourceType() === "script") bodies.push(await response.body().catch(() => Buffer.alloc(0)));
      });
      // Not "networkidle": a signed-in page holds its live feed (server-sent events) open for good.
      await tab.goto(`${app.url}${page}`, { waitUntil: "load" });
      await tab.getByTestId("project-nav").or(tab.getByRole("heading", { level: 1 })).first().waitFor();
      await tab.waitForTimeout(1_000); // chunks loaded after the first paint
      const raw = bodies.reduce((sum, b) => sum + b.length, 0);
      const gzip = bodies.reduce((sum, b) => sum + zlib.gzipSync(b, { level: 6 }).length, 0);
      console.log(`${page.includes("/projects/") ? "project dashboard" : "org overview     "} first-load JS: ${bodies.length} scripts, ${(raw / 1024).toFixed(1)} kB raw, ${(gzip / 1024).toFixed(1)} kB gzip`);
      await tab.close();
    }
  } finally {
    await browser.close();
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function runDashboardBench(): Promise<void> {
  console.log(`Goal: query p95 under 200 ms at ${SHAPE.versions} versions x ${SHAPE.suites} suites x ${SHAPE.cases} cases; page JS under 300 kB gzip.`);
  const cluster = await startPostgresCluster();
  if (cluster) {
    try {
      await measureQueries(`PostgreSQL ${cluster.version}`, cluster.url, SAMPLES);
    } finally {
      await cluster.stop();
    }
  } else {
    console.log("PostgreSQL server binaries not found: skipping the real-server measurement.");
  }
  if (process.env.BENCH_DASHBOARD_EMBEDDED !== "0") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-dashboard-db-"));
    const embedded = await startEmbeddedDatabase({ dataDir: dir });
    try {
      await measureQueries("embedded (PGlite)", embedded.url, SAMPLES);
    } finally {
      await embedded.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  await measurePageWeight();
}
