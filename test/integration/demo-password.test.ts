// The demo password is printed on the first start only (start logs are often collected and kept);
// later starts say where it is kept and how to reset it, and `hearth reset-password <email>` does.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { demoBanner, seedDemoOnce } from "@/server/seed";
import { authorizeCredentials } from "@/server/auth/credentials";
import { getArtifactStore } from "@/server/storage";
import { createSession, sessionIsLive } from "@/server/auth/sessions";
import { startEndpointRunWorker } from "@/server/runs/eval-runner";
import { DEMO_MODEL_VERSIONS } from "@/server/demo/content";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { until } from "../support/serving";

const root = path.resolve(import.meta.dirname, "../..");

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "bin/hearth.mjs"), ...args], { cwd: root, env, timeout: 120_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

describe.each(TEST_DATABASE_KINDS)("the demo sign-in on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let url: string;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-demo-"));
  // The configured store, as the server uses.
  const store = getArtifactStore();

  beforeAll(async () => {
    ({ db, close, url } = await openTestDatabase(kind, { own: true }));
  });
  afterAll(async () => close?.());

  it("prints the password on the first start only, then where it is kept and how to reset it; the reset works", async () => {
    const first = await seedDemoOnce(db, dataDir, { store });
    expect(first!.password).toMatch(/^demo-/);
    expect(demoBanner(first!).join("\n")).toContain(`Demo sign-in: demo@hearth.local / ${first!.password}`);
    const file = path.join(dataDir, "demo-sign-in.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);

    // The demo project holds a published policy with clauses, a published suite citing them, and datasets.
    const project = await db.project.findFirstOrThrow({ where: { org: { slug: "demo" } }, select: { id: true } });
    const policyVersion = await db.policyVersion.findFirstOrThrow({ where: { policy: { projectId: project.id } }, select: { clauses: true } });
    const clauseIds = (policyVersion.clauses as { id: string }[]).map((c) => c.id);
    expect(clauseIds).toEqual(["refunds", "refunds-sale", "tone", "privacy", "shipping", "escalation"]);
    const suiteVersion = await db.suiteVersion.findFirstOrThrow({ where: { suite: { projectId: project.id } }, select: { caseCount: true, cases: true } });
    expect(suiteVersion.caseCount).toBe(12);
    const cited = new Set((suiteVersion.cases as { clauses: string[] }[]).flatMap((c) => c.clauses));
    expect([...cited].sort()).toEqual([...clauseIds].sort());
    const datasets = await db.dataset.findMany({ where: { projectId: project.id }, select: { name: true, versions: { select: { lines: true } } }, orderBy: { name: "asc" } });
    expect(datasets.map((d) => [d.name, d.versions.length])).toEqual([["support-corpus", 1], ["support-pairs", 1]]);
    expect(datasets[1].versions[0].lines).toBe(36);

    const later = await seedDemoOnce(db, dataDir);
    const banner = demoBanner(later!).join("\n");
    expect(banner).not.toContain(first!.password);
    expect(banner).toContain(file);
    expect(banner).toContain("npx hearth reset-password demo@hearth.local");
    // Seeded once: a later start adds no second policy.
    expect(await db.policy.count({ where: { projectId: project.id } })).toBe(1);

    const user = await db.user.findUniqueOrThrow({ where: { email: "demo@hearth.local" } });
    const sid = await createSession(db, user.id);
    // Not spawnSync: the file's own embedded database is served from this process, which must keep answering.
    const cli = await runCli(["reset-password", "demo@hearth.local"], { ...process.env, DATABASE_URL: url, HEARTH_DATA_DIR: dataDir });
    expect(cli.stderr).toBe("");
    expect(cli.status).toBe(0);
    const password = /New password for demo@hearth\.local: (\S+)/.exec(cli.stdout)![1];
    expect(await authorizeCredentials(db, { email: "demo@hearth.local", password }, null)).toMatchObject({ id: user.id });
    expect(await authorizeCredentials(db, { email: "demo@hearth.local", password: first!.password! }, null)).toBeNull();
    expect(await sessionIsLive(db, sid, user.id)).toBe(false);
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ email: "demo@hearth.local", password });
    expect((await runCli(["reset-password", "nobody@example.com"], { ...process.env, DATABASE_URL: url })).status).toBe(1);
  });

  it("holds three model versions trained on the demo's pairs, each with an eval run the server runs on its CPU, scoring differently and above zero", async () => {
    const project = await db.project.findFirstOrThrow({ where: { org: { slug: "demo" } }, select: { id: true, orgId: true } });
    const pairs = await db.datasetVersion.findFirstOrThrow({ where: { dataset: { projectId: project.id, name: "support-pairs" } }, select: { id: true } });
    const versions = await db.modelVersion.findMany({
      where: { model: { projectId: project.id } },
      orderBy: { version: "asc" },
      select: { id: true, parentId: true, datasetVersionId: true, files: { select: { path: true } } },
    });
    expect(versions).toHaveLength(DEMO_MODEL_VERSIONS.length);
    // Folders with their lineage: each fine-tuned from the one before, all on the demo's pairs.
    expect(versions.map((v) => v.parentId)).toEqual([null, versions[0].id, versions[1].id]);
    expect(versions.every((v) => v.datasetVersionId === pairs.id)).toBe(true);
    expect(versions[0].files.map((f) => f.path)).toEqual(expect.arrayContaining(["config.json", "model.safetensors", "tokenizer.json"]));

    const runs = () => db.run.findMany({ where: { projectId: project.id, kind: "EVAL" }, select: { id: true, target: true, status: true, error: true, modelVersionId: true, summary: true } });
    expect((await runs()).map((r) => [r.target, r.status, r.error])).toEqual(versions.map(() => ["SERVER", "QUEUED", null]));
    const worker = startEndpointRunWorker({ db, store, pollMs: 100 });
    try {
      let last: unknown = null;
      await until(async () => (last = await runs()).every((r) => r.status !== "QUEUED" && r.status !== "RUNNING"), "the demo's eval runs to finish", () => JSON.stringify(last), 240_000);
    } finally {
      await worker.close();
    }
    const finished = await runs();
    expect(finished.map((r) => [r.status, r.error])).toEqual(versions.map(() => ["SUCCEEDED", null]));
    const rate = (versionId: string) => (finished.find((r) => r.modelVersionId === versionId)!.summary as { passRate: number }).passRate;
    const rates = versions.map((v) => rate(v.id));
    // Every case graded; each version better than the one it was fine-tuned from; the first below the
    // suite's 0.5 release threshold and the last above it, so the gate has a refusal and a pass to show.
    expect(await db.evalResult.count({ where: { runId: { in: finished.map((r) => r.id) } } })).toBe(12 * versions.length);
    expect(rates[0]).toBeGreaterThan(0);
    expect(rates[1]).toBeGreaterThan(rates[0]);
    expect(rates[2]).toBeGreaterThan(rates[1]);
    expect(rates[0]).toBeLessThan(0.5);
    expect(rates[2]).toBeGreaterThanOrEqual(0.5);
  }, 300_000);
});
