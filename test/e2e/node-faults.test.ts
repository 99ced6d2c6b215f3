// Hearth and two `hearth node` processes on loopback, on a real PostgreSQL: a training job survives
// kill -9 of the node running it (the other node resumes from the last checkpoint, metrics are
// neither lost nor repeated, the model version is registered once), eval on a node, cancel, the
// retry limit, a revoked node token, and a server that goes away mid-job.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { freePort, startPostgresCluster, type PostgresCluster } from "../support/postgres";
import { eventually, sessionCookie } from "../support/collab";
import { createOrgFixture, type OrgFixture } from "../support/fixtures";
import { trpcHttp } from "../support/http";
import { startNodeProcess, type NodeProcess } from "../support/nodes";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { applyMigrations } from "@/server/db/migrate";
import { createApiKey } from "@/server/apikeys/service";
import { createNodeToken } from "@/server/node-registry/tokens";
import { API_SCOPES } from "@/contracts/roles";

const SECRET = "node-e2e-secret-0123456789abcdefghijkl";
process.env.NEXTAUTH_SECRET = SECRET;

const CORPUS = "The quick brown fox jumps over the lazy dog. A refund is possible within thirty days. ".repeat(60);
const TRAIN = { kind: "PRETRAIN", preset: "tiny", batchSize: 4, lr: 0.01, seqLen: 32 };

describe("GPU nodes against a real server", () => {
  let cluster: PostgresCluster | null;
  let db: PrismaClient;
  let f: OrgFixture;
  let app: AppProcess;
  let apiKey: string;
  let port: number;
  let corpusVersionId: string;
  const nodes = new Map<string, NodeProcess>();
  const tokens: Record<string, { id: string; secret: string }> = {};
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-nodes-e2e-"));

  const startApp = () =>
    startAppProcess({
      port,
      dataDir,
      env: { DATABASE_URL: cluster!.url, NEXTAUTH_SECRET: SECRET, HEARTH_SEED_DEMO: "0", HEARTH_NODE_LEASE_SECONDS: "3", HEARTH_NODE_SWEEP_SECONDS: "0.5" },
    });
  const api = async (kind: "query" | "mutation", procedure: string, input: unknown) => {
    const response = await trpcHttp(app.url, kind, procedure, input, { authorization: `Bearer ${apiKey}` });
    if (response.status !== 200) throw new Error(`${procedure}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.result.data.json;
  };
  const startNode = async (name: string, token: string) => {
    const node = startNodeProcess({ serverUrl: app.url, token, name });
    nodes.set(name, node);
    await node.waitFor(/registered with/);
    return node;
  };
  const nodeHolding = async (runId: string) => {
    const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { leaseNodeId: true } });
    const row = run.leaseNodeId ? await db.gpuNode.findUnique({ where: { id: run.leaseNodeId }, select: { name: true } }) : null;
    return row ? nodes.get(row.name)! : null;
  };
  const untilFinished = async (runId: string, timeoutMs = 240_000) => {
    await eventually(async () => ["SUCCEEDED", "FAILED", "CANCELLED"].includes((await db.run.findUniqueOrThrow({ where: { id: runId } })).status), `run ${runId} finishes`, timeoutMs);
    return db.run.findUniqueOrThrow({ where: { id: runId } });
  };
  const uploadCorpus = async (text: string) => {
    const dataset = await api("mutation", "dataset.create", { projectId: f.projectId, name: `corpus-${Math.random().toString(36).slice(2, 8)}`, kind: "CORPUS" });
    const response = await fetch(`${app.url}/api/datasets/${dataset.id}/versions`, { method: "POST", headers: { authorization: `Bearer ${apiKey}` }, body: text });
    expect(response.status).toBe(201);
    return ((await response.json()) as { id: string }).id;
  };
  const queueTraining = (config: Record<string, unknown>, datasetVersionId = corpusVersionId) =>
    api("mutation", "run.create", { projectId: f.projectId, kind: "PRETRAIN", target: "NODE", config: { ...TRAIN, ...config, modelId: f.modelId }, datasetVersionId }) as Promise<{ id: string }>;
  const metricSteps = async (runId: string, name: string) =>
    (await db.runMetric.findMany({ where: { runId, name }, select: { step: true }, orderBy: { step: "asc" } })).map((m) => m.step);

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    if (!cluster) throw new Error("PostgreSQL binaries are needed for this test");
    await applyMigrations(cluster.url);
    db = createPrismaClient(cluster.url);
    f = await createOrgFixture(db);
    apiKey = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: "e2e", scopes: [...API_SCOPES] })).secret;
    for (const name of ["gpu-a", "gpu-b"]) {
      const { token, secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, `node ${name}`);
      tokens[name] = { id: token.id, secret };
    }
    port = await freePort();
    app = await startApp();
    corpusVersionId = await uploadCorpus(CORPUS);
    await Promise.all([startNode("gpu-a", tokens["gpu-a"].secret), startNode("gpu-b", tokens["gpu-b"].secret)]);
  });
  afterAll(async () => {
    await Promise.allSettled([...nodes.values()].map((n) => n.kill("SIGKILL")));
    await app?.stop();
    await db?.$disconnect();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("finishes a training job on the other node after kill -9, from the last checkpoint, with every metric once and one model version", async () => {
    const steps = 60;
    const run = await queueTraining({ steps, checkpointEvery: 10 });
    await eventually(async () => (await db.runCheckpoint.count({ where: { runId: run.id } })) > 0, "the first checkpoint is stored", 180_000);
    const victim = await nodeHolding(run.id);
    expect(victim).not.toBeNull();
    expect(await victim!.kill("SIGKILL")).toBe("SIGKILL");
    const { step: killedAt, sha256: killedSha } = (await db.runCheckpoint.findFirst({ where: { runId: run.id }, orderBy: { step: "desc" } }))!;
    expect(killedAt).toBeLessThan(steps);

    const after = await untilFinished(run.id);
    expect(after.status).toBe("SUCCEEDED");
    // Two attempts: the victim's and the survivor's. A starved heartbeat on a loaded machine can cost
    // one more lease; the job must still resume from a checkpoint, never start over.
    expect(after.attempts).toBeGreaterThanOrEqual(2);
    const summary = after.summary as { steps: number; resumedFromStep: number; attempt: number };
    expect(summary).toMatchObject({ steps, attempt: after.attempts });
    expect(summary.resumedFromStep).toBeGreaterThanOrEqual(killedAt);
    const survivor = [...nodes.values()].find((n) => n !== victim)!;
    expect(survivor.output()).toContain(`run ${run.id}: resuming from the checkpoint of step ${killedAt}`);
    // Every step's learning rate exactly once, from both nodes together.
    expect(await metricSteps(run.id, "lr")).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    const losses = await metricSteps(run.id, "loss");
    for (let s = 10; s <= steps; s += 10) expect(losses).toContain(s);
    // The model version holds the result: the run's training states are deleted, rows and files.
    expect(await db.runCheckpoint.count({ where: { runId: run.id } })).toBe(0);
    expect(fs.existsSync(path.join(dataDir, "artifacts", killedSha.slice(0, 2), killedSha.slice(2, 4), killedSha))).toBe(false);
    const versions = await db.modelVersion.findMany({ where: { runId: run.id } });
    expect(versions).toHaveLength(1);
    expect(versions[0]).toMatchObject({ modelId: f.modelId, datasetVersionId: corpusVersionId });
    expect((after.summary as { modelVersionId: string }).modelVersionId).toBe(versions[0].id);
    const sha = versions[0].artifactSha256!;
    expect(fs.existsSync(path.join(dataDir, "artifacts", sha.slice(0, 2), sha.slice(2, 4), sha))).toBe(true);

    // The killed node comes back under its name and takes work again.
    await startNode(victim!.name, tokens[victim!.name].secret);
  });

  it("runs an eval job on a node against the trained model and records every case", async () => {
    const version = await db.modelVersion.findFirstOrThrow({ where: { model: { id: f.modelId }, artifactSha256: { not: null } }, orderBy: { createdAt: "desc" } });
    const run = await api("mutation", "run.create", { projectId: f.projectId, kind: "EVAL", target: "NODE", config: { maxTokens: 8 }, suiteVersionId: f.suiteVersionId, modelVersionId: version.id });
    const after = await untilFinished(run.id);
    expect(after.status).toBe("SUCCEEDED");
    const results = await db.evalResult.findMany({ where: { runId: run.id } });
    expect(results.map((r) => r.caseId)).toEqual(["refund-window"]);
    expect(typeof results[0].output).toBe("string");
    expect(after.summary).toMatchObject({ cases: 1, graded: 1 });
  });

  it("shows the busy node and its job on the Nodes page, and stops the node's work when the run is cancelled", async () => {
    const run = await queueTraining({ steps: 5000, checkpointEvery: 1000 });
    await eventually(async () => (await metricSteps(run.id, "lr")).length >= 3, "the job is training", 180_000);
    const holder = (await nodeHolding(run.id))!;

    const browser = await launchBrowser();
    try {
      const context = await signedInContext(browser, app.url, await sessionCookie(db, f.users.ADMIN.userId));
      const page = await context.newPage();
      await page.goto(`/orgs/${f.orgId}/nodes`);
      const row = page.getByTestId("nodes-table").locator("tbody tr", { hasText: holder.name });
      await row.getByText("busy").waitFor();
      await row.getByText(`serving through localhost:${port}`).or(row.getByText(`serving through 127.0.0.1:${port}`)).waitFor();
      expect(await row.getByRole("link").getAttribute("href")).toBe(`/orgs/${f.orgId}/projects/${f.projectId}/runs/${run.id}`);
      await page.getByTestId("node-jobs-table").locator("tbody tr", { hasText: run.id.slice(-8) }).getByText("RUNNING").waitFor();
      await page.getByTestId("node-tokens-table").getByText("node gpu-a").waitFor();
      await page.screenshot({ path: screenshotPath("nodes-page"), fullPage: true });
      // A token made on the page is shown once, as the command to start a node, and works until revoked.
      await page.getByLabel("Name").fill("rack-from-page");
      await page.getByRole("button", { name: "Create token" }).click();
      const command = (await page.getByTestId("node-token-secret").textContent())!.trim();
      const token = /^HEARTH_NODE_TOKEN=(hnt_\S+) npx hearth node --server (\S+)$/.exec(command);
      expect(token?.[2]).toBe(new URL(app.url).origin);
      const created = await db.nodeToken.findFirstOrThrow({ where: { orgId: f.orgId, name: "rack-from-page" } });
      expect(created.revokedAt).toBeNull();
      expect(JSON.stringify(created)).not.toContain(token![1]);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByTestId("node-tokens-table").locator("tbody tr", { hasText: "rack-from-page" }).getByRole("button", { name: "Revoke" }).click();
      await page.getByTestId("node-tokens-table").locator("tbody tr", { hasText: "rack-from-page" }).getByText("revoked").waitFor();
      expect((await db.nodeToken.findUniqueOrThrow({ where: { id: created.id } })).revokedAt).not.toBeNull();
    } finally {
      await browser.close();
    }

    await api("mutation", "run.transition", { runId: run.id, status: "CANCELLED" });
    const [, step] = await holder.waitFor(new RegExp(`run ${run.id} cancelled at step (\\d+)`), 60_000);
    const after = await db.run.findUniqueOrThrow({ where: { id: run.id } });
    expect(after).toMatchObject({ status: "CANCELLED", leaseNodeId: null });
    expect(Math.max(...(await metricSteps(run.id, "lr")))).toBeLessThanOrEqual(Number(step));
    expect(Number(step)).toBeLessThan(5000);
  });

  it("fails a job that fails on every attempt after maxAttempts, with its error", async () => {
    const tooShort = await uploadCorpus("Too short.");
    const run = await queueTraining({ steps: 5, checkpointEvery: 5 }, tooShort);
    const after = await untilFinished(run.id);
    expect(after.status).toBe("FAILED");
    expect(after.attempts).toBe(3);
    expect(after.error).toMatch(/^Gave up after 3 attempts\. Last error: the corpus is \d+ tokens, fewer than one sequence of 32 \+ 1$/);
  });

  it("refuses a revoked node token at once: the node stops", async () => {
    const node = nodes.get("gpu-b")!;
    const admin = await sessionCookie(db, f.users.ADMIN.userId);
    const revoked = await trpcHttp(app.url, "mutation", "node.revokeToken", { orgId: f.orgId, tokenId: tokens["gpu-b"].id }, { cookie: admin });
    expect(revoked.status).toBe(200);
    expect(await node.exited).toBe(3);
    expect(node.output()).toContain('the server refused this node\'s token: The node token "node gpu-b" was revoked.');
    const response = await fetch(`${app.url}/api/node/lease`, { method: "POST", headers: { authorization: `Bearer ${tokens["gpu-b"].secret}`, "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(401);
  });

  it("keeps a node's work through a server outage and finishes the job once the server is back", async () => {
    const steps = 40;
    const run = await queueTraining({ steps, checkpointEvery: 10 });
    await eventually(async () => (await db.runCheckpoint.count({ where: { runId: run.id } })) > 0, "the first checkpoint is stored", 180_000);
    await app.kill("SIGKILL");
    const node = nodes.get("gpu-a")!;
    await node.waitFor(/heartbeat failed: cannot reach/, 30_000);
    app = await startApp();
    const after = await untilFinished(run.id);
    expect(after.status).toBe("SUCCEEDED");
    expect(await metricSteps(run.id, "lr")).toEqual(Array.from({ length: steps }, (_, i) => i + 1));
    expect(await db.modelVersion.count({ where: { runId: run.id } })).toBe(1);
    expect(node.output()).toContain("the server is reachable again");
    // A server restart (a Next start) and 40 steps on SwiftShader: more than the default 120 s on a loaded CI machine.
  }, 300_000);
});
