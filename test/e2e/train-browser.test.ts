// Training in the browser (headless Chromium, WebGPU on SwiftShader): a person starts a tiny
// pre-training run on the Train page, watches the loss chart move while the run and its metrics land in
// Hearth, pauses and resumes it, gets a model version with its lineage, and evaluates it on a suite
// version with per-case results. Cancelling ends a run without a version; without a GPU adapter the
// page explains why and queues the job for the GPU nodes; a fine-tune reloaded mid-run resumes from
// the checkpoint kept in the browser and still ends with one model version. The tests build on each
// other's models, in order.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

// A test's budget covers its waits (training runs on SwiftShader, slow on a loaded CI machine):
// vitest's default of 120 s cut off runs that were still progressing within their own waits.
const TRAINING_TEST_TIMEOUT = 600_000;

// Short sentences from a small vocabulary: a tiny model's loss falls visibly within a few dozen steps.
function corpus(): string {
  const subjects = ["the customer", "a refund", "the parcel", "our team", "the order"];
  const verbs = ["arrives", "is approved", "ships", "is late", "is ready"];
  const ends = ["today.", "in thirty days.", "by friday.", "after review.", "next week."];
  let text = "";
  let k = 7;
  for (let i = 0; i < 600; i++) {
    k = (k * 1103515245 + 12345) % 2147483648;
    text += `${subjects[k % 5]} ${verbs[(k >> 8) % 5]} ${ends[(k >> 16) % 5]}\n`;
  }
  return text;
}

const CASES = [
  { id: "parcel", input: "the parcel", expected: "ships", graders: [{ type: "contains", values: ["ships", "arrives", "is"], mode: "any" }], tags: ["shipping"], clauses: [] },
  { id: "refund", input: "a refund", graders: [{ type: "contains", values: ["approved"] }], tags: ["refunds"], clauses: [] },
  { id: "choice", input: "the order is", choices: [" ready today.", " purple elephant."], answerIndex: 0, graders: [{ type: "multiple-choice" }], tags: ["mc"], clauses: [] },
];


/** Selects filled by a query after a choice: a loaded CI machine answers in more than expect.poll's default 5 s. */
const LOADED = { timeout: 30_000 };
describe("training in the browser", () => {
  let browser: Browser;
  let cookie: string;
  let orgId: string;
  let projectId: string;
  let datasetVersionId: string;
  let pairsVersionId: string;
  let suiteId: string;

  async function call(kind: "query" | "mutation", path: string, input: unknown) {
    const response = await trpcHttp(app.url, kind, path, input, { cookie });
    if (response.status !== 200) throw new Error(`${path} failed (${response.status}): ${JSON.stringify(response.body.error?.json?.message)}`);
    return response.body.result.data.json;
  }

  beforeAll(async () => {
    browser = await launchBrowser(["--enable-unsafe-webgpu"]);
    const email = `${unique("trainer")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Tess Trainer", password: "tess-password-123" });
    cookie = await signInOverHttp(app.url, email, "tess-password-123");
    orgId = (await call("mutation", "org.create", { name: "Train Org" })).id;
    projectId = (await call("mutation", "project.create", { orgId, name: "Support model" })).id;
    const dataset = await call("mutation", "dataset.create", { projectId, name: "support-corpus", kind: "CORPUS" });
    const uploaded = await fetch(`${app.url}/api/datasets/${dataset.id}/versions`, { method: "POST", headers: { cookie }, body: corpus() });
    expect(uploaded.status).toBe(201);
    datasetVersionId = (await uploaded.json()).id;
    const pairs = await call("mutation", "dataset.create", { projectId, name: "support-pairs", kind: "PAIRS" });
    const pairLines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt: `Order ${i} status?`, response: i % 2 ? "It ships today." : "It is late." })).join("\n");
    const pairsUpload = await fetch(`${app.url}/api/datasets/${pairs.id}/versions`, { method: "POST", headers: { cookie }, body: pairLines });
    expect(pairsUpload.status).toBe(201);
    pairsVersionId = (await pairsUpload.json()).id;
    suiteId = (await call("mutation", "suite.create", { projectId, name: "support-smoke" })).id;
    await call("mutation", "suite.setCases", { suiteId, cases: CASES });
    await call("mutation", "suite.publish", { suiteId, message: "three smoke cases" });
  });
  afterAll(async () => browser?.close());

  // Every page a test opens is closed after it, passed or failed: a failed test's page would otherwise
  // go on training in the shared browser (one GPU process for all pages) and slow the next tests.
  const contexts: BrowserContext[] = [];
  async function newContext(): Promise<BrowserContext> {
    const context = await signedInContext(browser, app.url, cookie);
    contexts.push(context);
    return context;
  }
  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((context) => context.close().catch(() => undefined)));
  });

  /**
   * Fills the Train page's form for a tiny run and starts it in the browser: pre-training on the corpus
   * into a new model, or (with `parent`) full fine-tuning on the pairs into the parent's model.
   */
  async function startTinyRun(page: Page, o: { steps: number; modelName?: string; parent?: { modelName: string; versionId: string } }) {
    if (!page.url().endsWith(`/projects/${projectId}/train`)) await page.goto(`/orgs/${orgId}/projects/${projectId}/train`);
    const pick = (label: string) => page.getByLabel(label, { exact: true });
    if (o.parent) {
      await pick("Dataset").selectOption({ label: "support-pairs (prompt/response pairs)" });
      await expect.poll(() => pick("Dataset version").inputValue(), LOADED).toBe(pairsVersionId);
      await page.getByLabel("Full (SFT)").check();
      await pick("Parent model").selectOption({ label: o.parent.modelName });
      await expect.poll(() => pick("Parent version").inputValue(), LOADED).toBe(o.parent.versionId);
    } else {
      await pick("Dataset").selectOption({ label: "support-corpus (corpus)" });
      await expect.poll(() => pick("Dataset version").inputValue(), LOADED).toBe(datasetVersionId);
      await pick("Train into model").selectOption({ label: "A new model…" });
      await pick("New model name").fill(o.modelName!);
      await pick("Preset").selectOption("tiny");
    }
    await pick("Steps").fill(String(o.steps));
    await pick("Batch size").fill("4");
    await pick("Checkpoint every").fill("10");
    await page.getByTestId("gpu-report").waitFor();
    expect(await page.locator("input[name=where][value=BROWSER]").isChecked()).toBe(true);
    expect(await page.getByTestId("train-estimate").textContent()).toContain("parameters");
    await page.screenshot({ path: screenshotPath(`train-form-${o.parent ? "sft" : "pretrain"}`), fullPage: true });
    await page.getByRole("button", { name: "Start training" }).click();
    await page.getByTestId("train-stage").waitFor();
  }

  const stepOf = async (page: Page) => Number((await page.getByTestId("train-step").textContent())!.split("/")[0]);

  it("trains a tiny model with a live loss chart, records the run and its metrics, uploads the version, and evaluates it", async () => {
    const context = await newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`/orgs/${orgId}/projects/${projectId}`);
    await page.getByTestId("train-link").click();
    await page.waitForURL(`**/projects/${projectId}/train`);
    await startTinyRun(page, { modelName: "support-tiny", steps: 60 });

    // The chart and the progress move while training runs in the worker.
    await expect.poll(() => stepOf(page), { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(3);
    const early = await stepOf(page);
    await page.getByTestId("metrics-chart").waitFor();
    const pointsEarly = await page.getByTestId("metric-count").textContent();
    // The loss is read back every 10 steps: new points appear as the run passes them.
    await expect.poll(() => page.getByTestId("metric-count").textContent(), { timeout: 120_000, interval: 250 }).not.toBe(pointsEarly);
    expect(Number(await page.getByTestId("train-progress").getAttribute("value"))).toBeGreaterThan(early);
    // The page stays responsive: a button toggles the chart into a table and back while training.
    await page.getByRole("button", { name: "Show as table" }).click();
    await page.getByTestId("metrics-table").waitFor();
    await page.getByRole("button", { name: "Show chart" }).click();

    // The run is in Hearth, RUNNING, with metrics arriving as they happen.
    const runs = await call("query", "run.list", { projectId, kind: "PRETRAIN" });
    expect(runs).toHaveLength(1);
    const run = runs[0];
    expect(run).toMatchObject({ target: "BROWSER", datasetVersionId, config: { kind: "PRETRAIN", preset: "tiny", steps: 60, batchSize: 4, checkpointEvery: 10 } });
    await expect.poll(async () => (await call("query", "run.metrics", { runId: run.id, names: ["loss"] }))[0]?.steps.length ?? 0, { timeout: 60_000 }).toBeGreaterThan(0);

    await expect.poll(() => page.getByTestId("train-stage").textContent(), { timeout: 240_000, interval: 500 }).toBe("Finished");
    await page.getByTestId("trained-version").waitFor();
    await page.screenshot({ path: screenshotPath("train-finished"), fullPage: true });

    const finished = await call("query", "run.get", { runId: run.id });
    expect(finished.status).toBe("SUCCEEDED");
    const metrics = await call("query", "run.metrics", { runId: run.id });
    const loss = metrics.find((m: { name: string }) => m.name === "loss");
    expect(loss.steps[0]).toBe(1);
    expect(loss.steps.at(-1)).toBe(60);
    expect(loss.values.at(-1)).toBeLessThan(loss.values[0]);
    expect(metrics.map((m: { name: string }) => m.name).sort()).toEqual(["loss", "lr", "tokens_per_s", "val_loss"]);
    const model = await call("query", "model.get", { modelId: run.config.modelId });
    expect(model.name).toBe("support-tiny");
    expect(model.versions).toHaveLength(1);
    const version = model.versions[0];
    expect(version).toMatchObject({ runId: run.id, datasetVersionId, parentId: null, config: { architecture: { nLayer: 2, nEmbd: 32 }, training: { kind: "PRETRAIN", steps: 60 } } });
    expect(version.artifactSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(finished.summary).toMatchObject({ steps: 60, modelVersionId: version.id, sha256: version.artifactSha256 });
    expect(finished.summary.tokens).toBe(60 * 4 * 32);
    console.log(`browser training: loss ${loss.values[0].toFixed(3)} -> ${loss.values.at(-1).toFixed(3)} over 60 steps (tiny, batch 4), ${Math.round(finished.summary.tokensPerSecond ?? 0) || "?"} tokens/s; model v${version.version} ${version.sizeBytes} bytes`);

    // Evaluate the new version on the suite, in the browser.
    await page.getByRole("button", { name: "Evaluate it" }).click();
    const form = page.getByTestId("evaluate-form");
    await form.getByLabel("Suite", { exact: true }).selectOption({ label: "support-smoke" });
    await expect.poll(() => form.getByLabel("Suite version", { exact: true }).inputValue()).not.toBe("");
    await form.getByLabel("Max new tokens", { exact: true }).fill("8");
    await form.getByRole("button", { name: "Run eval" }).click();
    await expect.poll(() => page.getByTestId("eval-stage").textContent(), { timeout: 180_000, interval: 500 }).toBe("succeeded");
    expect(await page.getByTestId("eval-progress").textContent()).toContain("3/3 cases");
    await page.screenshot({ path: screenshotPath("train-evaluated"), fullPage: true });

    const evalRuns = await call("query", "run.list", { projectId, kind: "EVAL" });
    expect(evalRuns).toHaveLength(1);
    expect(evalRuns[0]).toMatchObject({ status: "SUCCEEDED", target: "BROWSER", modelVersionId: version.id, summary: { cases: 3, graded: 3 } });
    await page.getByTestId("eval-run-link").click();
    const results = page.getByTestId("results");
    await results.waitFor();
    expect(await results.locator("tbody tr").count()).toBe(3);
    // Each row's first cell is the case id followed by its tags.
    expect(await results.locator("tbody tr td.mono").allTextContents()).toEqual(["choicemc", "parcelshipping", "refundrefunds"]);
    await page.screenshot({ path: screenshotPath("train-eval-results"), fullPage: true });

    // The model page offers the same Evaluate action on each version with a checkpoint.
    await page.goto(`/orgs/${orgId}/projects/${projectId}/models/${model.id}`);
    await page.getByTestId("model-versions").getByRole("button", { name: "Evaluate" }).click();
    await page.getByTestId("evaluate-form").getByLabel("Suite", { exact: true }).waitFor();
    expect(errors).toEqual([]);
    await context.close();
  }, TRAINING_TEST_TIMEOUT);

  it("pauses and resumes a run, and cancels it on request or when it was ended in Hearth: CANCELLED, and no model version", async () => {
    const context = await newContext();
    const page = await context.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await startTinyRun(page, { modelName: "support-cancelled", steps: 500 });
    await expect.poll(() => stepOf(page), { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    // Pause holds the run; resume carries on from there.
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => page.getByTestId("train-stage").textContent()).toBe("Paused");
    const paused = await stepOf(page);
    await page.getByRole("button", { name: "Resume" }).click();
    await expect.poll(() => stepOf(page), { timeout: 120_000, interval: 250 }).toBeGreaterThan(paused + 1);
    await page.getByRole("button", { name: "Cancel" }).click();
    await expect.poll(() => page.getByTestId("train-stage").textContent(), { timeout: 60_000, interval: 250 }).toBe("Cancelled");
    const run = (await call("query", "run.list", { projectId, kind: "PRETRAIN" })).find((r: { config: { steps: number } }) => r.config.steps === 500);
    expect(run.status).toBe("CANCELLED");
    expect((await call("query", "model.get", { modelId: run.config.modelId })).versions).toEqual([]);
    // Nothing is left to resume: the page offers a new run.
    await page.reload();
    await page.getByTestId("train-form").waitFor();

    // A run ended in Hearth by someone else (here through the API) stops training in the browser too.
    await startTinyRun(page, { modelName: "support-ended-elsewhere", steps: 500 });
    await expect.poll(() => stepOf(page), { timeout: 120_000, interval: 250 }).toBeGreaterThanOrEqual(2);
    const other = (await call("query", "run.list", { projectId, kind: "PRETRAIN" })).find((r: { status: string }) => r.status === "RUNNING");
    await call("mutation", "run.transition", { runId: other.id, status: "CANCELLED" });
    await expect.poll(() => page.getByTestId("train-stage").textContent(), { timeout: 60_000, interval: 250 }).toBe("Cancelled");
    expect(await page.locator(".alert-error").textContent()).toContain("The run was ended in Hearth (it is CANCELLED)");
    expect((await call("query", "model.get", { modelId: other.config.modelId })).versions).toEqual([]);
    await context.close();
  }, TRAINING_TEST_TIMEOUT);

  it("explains when the browser has no GPU adapter, and sends a LoRA fine-tune of the trained model to the GPU nodes instead", async () => {
    const parentModel = (await call("query", "model.list", { projectId })).find((m: { name: string }) => m.name === "support-tiny");
    const parent = (await call("query", "model.get", { modelId: parentModel.id })).versions[0];
    const noGpu = await launchBrowser();
    try {
      const context = await signedInContext(noGpu, app.url, cookie);
      const page = await context.newPage();
      await page.goto(`/orgs/${orgId}/projects/${projectId}/train`);
      const notice = page.getByTestId("no-webgpu");
      await notice.waitFor();
      expect(await notice.textContent()).toContain("found no GPU adapter");
      await page.getByLabel("Dataset", { exact: true }).selectOption({ label: "support-pairs (prompt/response pairs)" });
      await expect.poll(() => page.getByLabel("Dataset version", { exact: true }).inputValue(), LOADED).toBe(pairsVersionId);
      await page.getByLabel("LoRA adapters").check();
      await page.getByLabel("Parent model", { exact: true }).selectOption({ label: "support-tiny" });
      await expect.poll(() => page.getByLabel("Parent version", { exact: true }).inputValue(), LOADED).toBe(parent.id);
      expect(await page.getByLabel("Train into model", { exact: true }).inputValue()).toBe(parentModel.id);
      await page.getByLabel("Steps", { exact: true }).fill("50");
      expect(await page.locator("input[name=where][value=BROWSER]").isDisabled()).toBe(true);
      expect(await page.locator("input[name=where][value=NODE]").isChecked()).toBe(true);
      await page.screenshot({ path: screenshotPath("train-no-webgpu"), fullPage: true });
      await page.getByRole("button", { name: "Send to GPU nodes" }).click();
      await page.getByTestId("queued-run").waitFor();

      const [run] = await call("query", "run.list", { projectId, kind: "LORA" });
      expect(run).toMatchObject({
        target: "NODE",
        status: "QUEUED",
        datasetVersionId: pairsVersionId,
        modelVersionId: parent.id,
        config: { kind: "LORA", preset: "tiny", steps: 50, lora: { rank: 8, alpha: 16 }, modelId: parentModel.id },
      });
      expect(await page.getByTestId("queued-run").getByRole("link").getAttribute("href")).toBe(`/orgs/${orgId}/projects/${projectId}/runs/${run.id}`);
      await context.close();
    } finally {
      await noGpu.close();
    }
  });

  it("resumes a fine-tuning run from the browser's checkpoint after a reload, and registers one model version with its lineage", async () => {
    const parentModel = (await call("query", "model.list", { projectId })).find((m: { name: string }) => m.name === "support-tiny");
    const parent = (await call("query", "model.get", { modelId: parentModel.id })).versions[0];
    const context = await newContext();
    const page = await context.newPage();
    await startTinyRun(page, { steps: 100, parent: { modelName: "support-tiny", versionId: parent.id } });
    await expect.poll(async () => Number(await page.getByTestId("train-checkpoint").textContent()) || 0, { timeout: 180_000, interval: 250 }).toBeGreaterThanOrEqual(10);
    // Held before the reload: a run that reached its last step first has nothing left to resume, and
    // the tiny model trains a step in well under 100 ms, faster than a loaded test machine may reload.
    // The reload resumes it all the same.
    await page.getByRole("button", { name: "Pause" }).click();
    await expect.poll(() => page.getByTestId("train-stage").textContent()).toBe("Paused");
    expect(await stepOf(page)).toBeLessThan(100);
    const runId = (await call("query", "run.list", { projectId, kind: "SFT" })).find((r: { status: string }) => r.status === "RUNNING").id;
    await page.reload();
    const notice = page.getByTestId("resumed-notice");
    await notice.waitFor({ timeout: 60_000 });
    const resumedAt = Number(/step (\d+)/.exec((await notice.textContent())!)![1]);
    expect(resumedAt).toBeGreaterThanOrEqual(10);
    expect(resumedAt % 10).toBe(0);
    await expect.poll(() => page.getByTestId("train-stage").textContent(), { timeout: 240_000, interval: 500 }).toBe("Finished");
    await page.screenshot({ path: screenshotPath("train-resumed"), fullPage: true });

    const run = await call("query", "run.get", { runId });
    expect(run).toMatchObject({ status: "SUCCEEDED", modelVersionId: parent.id, datasetVersionId: pairsVersionId, summary: { steps: 100 } });
    const versions = (await call("query", "model.get", { modelId: parentModel.id })).versions;
    const fromRun = versions.filter((v: { runId: string | null }) => v.runId === runId);
    expect(fromRun).toHaveLength(1);
    expect(fromRun[0]).toMatchObject({ version: 2, parentId: parent.id, datasetVersionId: pairsVersionId, config: { training: { kind: "SFT", modelId: parentModel.id } } });
    // No gap at the reload: points up to the checkpoint reached Hearth before it, the rest were computed after.
    const [loss, valLoss] = await call("query", "run.metrics", { runId, names: ["loss", "val_loss"] });
    expect(loss.steps[0]).toBe(1);
    const checkpoints = Array.from({ length: 10 }, (_, i) => 10 * (i + 1));
    expect(loss.steps).toEqual(expect.arrayContaining(checkpoints));
    expect(valLoss.steps).toEqual(checkpoints);
    expect(new Set(loss.steps).size).toBe(loss.steps.length);
    await context.close();
  }, TRAINING_TEST_TIMEOUT);
});
