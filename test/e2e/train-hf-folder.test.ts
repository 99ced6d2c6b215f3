// An open-weight model through the whole loop in the browser (headless Chromium, WebGPU on
// SwiftShader): on the Train page a person imports a tiny Hugging Face folder (made by transformers)
// as the parent, sees its memory plan, LoRA fine-tunes it on prompt/response pairs through its chat
// template with the loss chart moving, evaluates the result against a suite, and downloads it as a
// folder that transformers loads, with the PEFT adapter beside it.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { readTar } from "@/gpu/io/tar";
import { writeFolderFiles } from "@/gpu/io/folder-node";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";
import { copyTinyLlamaFolder, oracleOrSkip, runOracle } from "../support/oracle";

const app = inject("app");

const PAIRS = [
  { prompt: "How long do refunds take?", response: "Refunds are possible within thirty days of delivery." },
  { prompt: "How long is shipping?", response: "Shipping takes five working days." },
  { prompt: "Say hello.", response: "Hello! How can I help you today?" },
];
const CASES = [
  { id: "shipping", input: [{ role: "user", content: "How long is shipping?" }], graders: [{ type: "contains", values: ["Shipping takes"] }], tags: ["chat"], clauses: [] },
  { id: "hello", input: [{ role: "user", content: "Say hello." }], graders: [{ type: "contains", values: ["Hello"] }], tags: ["chat"], clauses: [] },
];

describe.skipIf(!oracleOrSkip())("fine-tuning a Hugging Face folder in the browser", () => {
  let browser: Browser;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-hf-train-"));
  const folder = path.join(root, "tiny-llama");
  beforeAll(async () => {
    browser = await launchBrowser(["--enable-unsafe-webgpu"]);
    copyTinyLlamaFolder(folder);
  });
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("imports the folder on the Train page, LoRA fine-tunes it with the loss falling, evaluates it, and downloads a folder transformers loads", async () => {
    const email = `${unique("lora")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Lou Lora", password: "lou-password-123" });
    const cookie = await signInOverHttp(app.url, email, "lou-password-123");
    const call = async (kind: "query" | "mutation", p: string, input: unknown) => {
      const r = await trpcHttp(app.url, kind, p, input, { cookie });
      if (r.status !== 200) throw new Error(`${p} failed (${r.status}): ${JSON.stringify(r.body.error?.json?.message)}`);
      return r.body.result.data.json;
    };
    const org = await call("mutation", "org.create", { name: "Open Weights Org" });
    const project = await call("mutation", "project.create", { orgId: org.id, name: "Assistant" });
    const model = await call("mutation", "model.create", { projectId: project.id, name: "tiny-llama" });
    const pairs = await call("mutation", "dataset.create", { projectId: project.id, name: "faq-pairs", kind: "PAIRS" });
    const upload = await fetch(`${app.url}/api/datasets/${pairs.id}/versions`, { method: "POST", headers: { cookie }, body: PAIRS.map((p) => JSON.stringify(p)).join("\n") });
    expect(upload.status).toBe(201);
    const suite = await call("mutation", "suite.create", { projectId: project.id, name: "faq-chat" });
    await call("mutation", "suite.setCases", { suiteId: suite.id, cases: CASES });
    await call("mutation", "suite.publish", { suiteId: suite.id, message: "two chat cases" });

    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`/orgs/${org.id}/projects/${project.id}/train`);
    const pick = (label: string) => page.getByLabel(label, { exact: true });
    await pick("Dataset").selectOption({ label: "faq-pairs (prompt/response pairs)" });
    await page.getByLabel("LoRA adapters").check();
    await pick("Train into model").selectOption({ label: "tiny-llama (0 versions)" });

    // Import the folder right here: it becomes the parent, described, with its memory plan drawn.
    await page.getByTestId("folder-input").setInputFiles(folder);
    await page.getByTestId("folder-done").waitFor({ timeout: 60_000 });
    await page.getByTestId("parent-folder").waitFor();
    expect(await page.getByTestId("parent-folder").textContent()).toMatch(/LlamaForCausalLM · 39\.1k parameters · BF16 · context 128/);
    const [v1] = (await call("query", "model.get", { modelId: model.id })).versions;
    await expect.poll(() => pick("Parent version").inputValue()).toBe(v1.id);
    await page.getByTestId("memory-plan").waitFor();
    await page.getByTestId("lora-options").waitFor();
    // Presets shaped like SmolLM2-135M and Qwen2.5-0.5B, planned on this adapter with a time per step.
    const presets = page.getByTestId("preset-table");
    expect(await presets.locator("tbody tr td:first-child").allTextContents()).toEqual(expect.arrayContaining(["SmolLM2-135M", "Qwen2.5-0.5B"]));
    await expect.poll(() => page.getByTestId("plan-time").count(), { timeout: 60_000 }).toBe(1);
    expect(await presets.locator("tbody tr").first().textContent()).toMatch(/\d+(\.\d+)? (s|min|h|days)/);

    await pick("Steps").fill("40");
    await pick("Learning rate").fill("0.02");
    await pick("Batch size").fill("3");
    await pick("Sequence length").fill("64");
    await pick("Checkpoint every").fill("10");
    await pick("LoRA dropout").fill("0.05");
    await page.getByTestId("gpu-report").waitFor();
    expect(await page.locator("input[name=where][value=BROWSER]").isChecked()).toBe(true);
    const planned = await page.getByTestId("plan-total").textContent();
    await page.screenshot({ path: screenshotPath("train-hf-folder-form"), fullPage: true });
    await page.getByRole("button", { name: "Start training" }).click();

    // The loss chart moves while the worker trains.
    await page.getByTestId("metrics-chart").waitFor({ timeout: 120_000 });
    const pointsEarly = await page.getByTestId("metric-count").textContent();
    await expect.poll(() => page.getByTestId("metric-count").textContent(), { timeout: 240_000, interval: 250 }).not.toBe(pointsEarly);
    await expect.poll(() => page.getByTestId("train-stage").textContent(), { timeout: 300_000, interval: 500 }).toBe("Finished");
    await page.getByTestId("trained-version").waitFor();
    expect(await page.getByTestId("train-memory").textContent()).toContain(`planned ${planned}`);
    await page.screenshot({ path: screenshotPath("train-hf-folder-finished"), fullPage: true });

    const [run] = await call("query", "run.list", { projectId: project.id, kind: "LORA" });
    expect(run).toMatchObject({ status: "SUCCEEDED", modelVersionId: v1.id, config: { kind: "LORA", steps: 40, seqLen: 64, lora: { rank: 8, alpha: 16, dropout: 0.05 } } });
    expect(run.config.preset).toBeUndefined();
    const loss = (await call("query", "run.metrics", { runId: run.id, names: ["loss"] }))[0];
    expect(loss.values.at(-1)).toBeLessThan(loss.values[0] * 0.5);
    expect(run.summary.memory.peakBytes).toBeGreaterThan(0);
    expect(Math.abs(run.summary.memory.plannedBytes - run.summary.memory.peakBytes) / run.summary.memory.peakBytes).toBeLessThan(0.2);
    const versions = (await call("query", "model.get", { modelId: model.id })).versions;
    expect(versions).toHaveLength(2);
    const v2 = versions[1];
    expect(v2).toMatchObject({ parentId: v1.id, runId: run.id, config: { format: "hf-folder", architecture: "LlamaForCausalLM" } });

    // Evaluate the fine-tuned folder on the suite, in the browser, through its chat template.
    await page.getByRole("button", { name: "Evaluate it" }).click();
    const form = page.getByTestId("evaluate-form");
    await form.getByLabel("Suite", { exact: true }).selectOption({ label: "faq-chat" });
    await expect.poll(() => form.getByLabel("Suite version", { exact: true }).inputValue()).not.toBe("");
    await form.getByLabel("Max new tokens", { exact: true }).fill("16");
    await form.getByRole("button", { name: "Run eval" }).click();
    await expect.poll(() => page.getByTestId("eval-stage").textContent(), { timeout: 180_000, interval: 500 }).toBe("succeeded");
    const [evalRun] = await call("query", "run.list", { projectId: project.id, kind: "EVAL" });
    expect(evalRun).toMatchObject({ status: "SUCCEEDED", modelVersionId: v2.id, summary: { cases: 2, graded: 2 } });
    const results = await call("query", "run.results", { runId: evalRun.id });
    expect(results.items.map((r: { caseId: string }) => r.caseId).sort()).toEqual(["hello", "shipping"]);
    expect(results.items.filter((r: { pass: boolean }) => r.pass).length).toBeGreaterThanOrEqual(1);

    // Take it out: the model page offers the folder as one archive; transformers loads what it holds.
    await page.goto(`/orgs/${org.id}/projects/${project.id}/models/${model.id}`);
    const link = page.getByTestId("download-folder").first();
    await link.waitFor();
    const href = await link.getAttribute("href");
    expect(href).toBe(`/api/model-versions/${v2.id}/artifact`);
    const archive = new Uint8Array(await page.evaluate((url) => fetch(url).then(async (r) => [...new Uint8Array(await r.arrayBuffer())]), href!));
    const files = readTar(archive);
    expect([...files.keys()]).toEqual(expect.arrayContaining(["config.json", "model.safetensors", "tokenizer.json", "adapter/adapter_config.json", "adapter/adapter_model.safetensors"]));
    const out = path.join(root, "downloaded");
    writeFolderFiles(files, out);
    const { logits } = JSON.parse(runOracle("hf_folder.py", ["forward", out], { input: JSON.stringify({ ids: [[0, 86, 84]] }) }).stdout);
    expect(logits[0]).toHaveLength(320);
    expect(logits[0].every((x: number) => Number.isFinite(x))).toBe(true);
    await page.screenshot({ path: screenshotPath("train-hf-folder-model"), fullPage: true });
    expect(errors).toEqual([]);
    await context.close();
  }, 600_000);
});
