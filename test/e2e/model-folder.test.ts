// Bringing an open-weight model in from the browser: choose a Hugging Face folder (made by
// transformers) on the model page, watch it upload, see what it is, and take its files back out.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";
import { copyTinyLlamaFolder, oracleOrSkip, runOracle } from "../support/oracle";
import { writeTinyLlamaFolder } from "../support/tiny-hf-folder";
import { chatTokenizerFiles, tokenizerOf } from "../support/tiny-chat-folder";

const app = inject("app");

describe.skipIf(!oracleOrSkip())("a Hugging Face folder in the browser", () => {
  let browser: Browser;
  const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-hf-")), "tiny-llama");
  beforeAll(async () => {
    browser = await launchBrowser();
    copyTinyLlamaFolder(folder);
  });
  afterAll(async () => browser?.close());

  it("imports a chosen folder as a model version, shows what it is, and lists its files for download", async () => {
    const email = `${unique("folder")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Fay Folder", password: "fay-password-123" });
    const cookie = await signInOverHttp(app.url, email, "fay-password-123");
    const call = async (p: string, input: unknown) => (await trpcHttp(app.url, "mutation", p, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Folder Org" });
    const project = await call("project.create", { orgId: org.id, name: "Open weights" });
    const model = await call("model.create", { projectId: project.id, name: "tiny-llama" });

    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${org.id}/projects/${project.id}/models/${model.id}`);
    await page.getByTestId("folder-input").setInputFiles(folder);
    await page.getByTestId("folder-done").waitFor({ timeout: 60_000 });
    expect(await page.getByTestId("folder-done").textContent()).toBe("Imported as v1.");
    const summary = page.getByTestId("folder-summary");
    await summary.waitFor();
    expect(await summary.textContent()).toMatch(/LlamaForCausalLM · 39\.1k parameters · BF16 · context 128 · apache-2\.0/);
    await page.getByRole("button", { name: "Files" }).click();
    const files = page.getByTestId("folder-files");
    await files.waitFor();
    const names = await files.locator("a").allTextContents();
    expect(names.sort()).toEqual(fs.readdirSync(folder).sort());
    const href = await files.getByRole("link", { name: "config.json", exact: true }).getAttribute("href");
    expect(await page.evaluate((url) => fetch(url!).then((r) => r.text()), href)).toBe(fs.readFileSync(path.join(folder, "config.json"), "utf8"));
    await page.screenshot({ path: screenshotPath("model-folder"), fullPage: true });

    // A folder without a tokenizer is refused before anything is sent, with the reason.
    const broken = path.join(path.dirname(folder), "no-tokenizer");
    fs.cpSync(folder, broken, { recursive: true });
    fs.rmSync(path.join(broken, "tokenizer.json"));
    await page.getByTestId("folder-input").setInputFiles(broken);
    await page.getByTestId("folder-error").waitFor();
    expect(await page.getByTestId("folder-error").textContent()).toMatch(/no tokenizer\.json/);
    await context.close();
  });
});

/** A random tiny llama that chats (tokenizer, chat template, eos), written as save_pretrained would; `seed` picks its weights. */
function randomChatFolder(dir: string, seed: number) {
  const files = chatTokenizerFiles();
  writeTinyLlamaFolder(dir, { seed, config: { vocab_size: tokenizerOf(files).vocabSize + 2, max_position_embeddings: 64 } });
  for (const [name, bytes] of files) fs.writeFileSync(path.join(dir, name), bytes);
}

describe("the playground", () => {
  let browser: Browser;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-playground-"));
  beforeAll(async () => {
    browser = await launchBrowser(["--enable-unsafe-webgpu"]);
  });
  afterAll(async () => {
    await browser?.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("chats with two model versions side by side in the browser and shows the request that reproduces each answer", { timeout: 300_000 }, async () => {
    const email = `${unique("play")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Pat Play", password: "pat-password-123" });
    const cookie = await signInOverHttp(app.url, email, "pat-password-123");
    const call = async (p: string, input: unknown) => (await trpcHttp(app.url, "mutation", p, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Playground Org" });
    const project = await call("project.create", { orgId: org.id, name: "Chat lab" });
    const model = await call("model.create", { projectId: project.id, name: "tiny-chat" });

    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${org.id}/projects/${project.id}/models/${model.id}`);
    for (const [seed, version] of [[1, 1], [2, 2]]) {
      const dir = path.join(root, `seed-${seed}`);
      fs.mkdirSync(dir);
      randomChatFolder(dir, seed);
      await page.getByTestId("folder-input").setInputFiles(dir);
      await page.getByTestId("folder-done").filter({ hasText: `Imported as v${version}.` }).waitFor({ timeout: 60_000 });
    }

    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    await page.getByTestId("project-nav").getByRole("link", { name: "Playground" }).click();
    await page.waitForURL(/\/playground$/);
    for (const [pane, version] of [["a", "1"], ["b", "2"]] as const) {
      const p = page.getByTestId(`playground-pane-${pane}`);
      await p.getByLabel(`Model ${pane.toUpperCase()}`, { exact: true }).selectOption({ label: "tiny-chat" });
      await p.getByLabel(`Version ${pane.toUpperCase()}`, { exact: true }).selectOption({ label: `v${version}` });
    }
    for (const pane of ["a", "b"]) {
      const ready = await page.getByTestId(`playground-pane-${pane}`).getByTestId("model-state").filter({ hasText: "Ready on" }).waitFor({ timeout: 90_000 }).then(() => true, () => false);
      if (!ready) {
        await page.screenshot({ path: screenshotPath("playground-not-ready"), fullPage: true });
        throw new Error(`Pane ${pane} never loaded its model: ${(await page.getByTestId(`playground-pane-${pane}`).textContent()) ?? ""}; ${problems.join("; ")}`);
      }
    }
    await page.getByLabel("Max tokens").fill("6");
    await page.getByLabel("Seed").fill("7");
    await page.getByLabel("Message", { exact: true }).fill("what is the answer?");
    await page.getByRole("button", { name: "Send to both" }).click();

    const answers: string[] = [];
    for (const [pane, version] of [["a", 1], ["b", 2]] as const) {
      const p = page.getByTestId(`playground-pane-${pane}`);
      await p.getByTestId("answer").waitFor({ timeout: 120_000 });
      answers.push((await p.getByTestId("answer").textContent())!);
      await p.getByText("The request that reproduces this answer").click();
      const request = (await p.getByTestId("reproduce").textContent())!;
      const body = JSON.parse(request.slice(request.indexOf("'") + 1, request.lastIndexOf("'")));
      expect(body).toEqual({ model: `chat-lab/tiny-chat:v${version}`, messages: [{ role: "user", content: "what is the answer?" }], temperature: 0, max_tokens: 6, seed: 7 });
      expect(request).toContain(`${app.url}/v1/chat/completions`);
    }
    // Two different (seeded) random models: each pane answered with its own.
    await expect(page.getByTestId("playground-pane-a").locator(".chat-assistant > .hint").first().textContent()).resolves.toMatch(/^tiny-chat v1 · /);
    await expect(page.getByTestId("playground-pane-b").locator(".chat-assistant > .hint").first().textContent()).resolves.toMatch(/^tiny-chat v2 · /);
    expect(answers[0]).not.toBe(answers[1]);
    await page.screenshot({ path: screenshotPath("playground-two-models"), fullPage: true });
    await context.close();
  });
});
