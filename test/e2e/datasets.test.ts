// Uploading datasets in the browser: a valid file becomes a version with its stats; an invalid one is
// refused with the line numbers that are wrong, and nothing is stored.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

describe("datasets in a browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("uploads a prompt/response file as a version, refuses a broken one with line numbers, and downloads it back", async () => {
    const email = `${unique("data")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Dana Data", password: "dana-password-123" });
    const cookie = await signInOverHttp(app.url, email, "dana-password-123");
    const call = async (path: string, input: unknown) => (await trpcHttp(app.url, "mutation", path, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Data Org" });
    const project = await call("project.create", { orgId: org.id, name: "Fine-tuning" });

    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${org.id}/projects/${project.id}/datasets`);
    await page.getByLabel("Name").fill("support-pairs");
    await page.getByRole("button", { name: "Create dataset" }).click();

    const good = ['{"prompt": "Refund after 40 days?", "response": "No, the window is 30 days."}', '{"prompt": "Hi", "response": "Hello!"}'].join("\n") + "\n";
    await page.locator("input[type=file]").setInputFiles({ name: "pairs.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(good) });
    await page.getByRole("button", { name: "Upload" }).click();
    const versions = page.getByTestId("dataset-versions");
    await versions.getByText("v1").waitFor();
    const cells = await versions.locator("tbody tr").first().locator("td").allTextContents();
    expect(cells.slice(0, 4)).toEqual(["v1", `${Buffer.byteLength(good)} B`, "2", "2"]);

    const bad = ['{"prompt": "ok", "response": "fine"}', "not json", '{"prompt": 1, "response": "x"}'].join("\n");
    await page.locator("input[type=file]").setInputFiles({ name: "broken.jsonl", mimeType: "application/x-ndjson", buffer: Buffer.from(bad) });
    await page.getByRole("button", { name: "Upload" }).click();
    const alert = page.locator(".alert-error");
    await alert.waitFor();
    expect(await alert.textContent()).toContain("line 2: not valid JSON");
    expect(await alert.textContent()).toContain('line 3: "prompt" must be a string');
    expect(await versions.locator("tbody tr").count()).toBe(1);
    await page.screenshot({ path: screenshotPath("datasets"), fullPage: true });

    const href = await versions.getByRole("link", { name: "Download" }).getAttribute("href");
    const download = await page.evaluate((url) => fetch(url!).then((r) => r.text()), href);
    expect(download).toBe(good);
    await context.close();
  });
});
