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
