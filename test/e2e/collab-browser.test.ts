// Two people in two browsers co-edit one policy: each sees the other's text and cursor; one goes
// offline, edits, comes back, and both converge; a VIEWER sees the document and cannot type.
// Runs on an app process of its own, seeded directly in its embedded database.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { freePort } from "../support/postgres";
import { signInOverHttp } from "../support/http";
import { createCollabFixture, type CollabFixture } from "../support/collab";
import { createPrismaClient } from "@/server/db/client";
import { startEmbeddedDatabase } from "@/server/db/embedded";
import { applyMigrations } from "@/server/db/migrate";

const PASSWORD = "collab-password-123";
// The policy page renders the live editor; this drives it from two browsers and a VIEWER.
describe("co-editing a policy in the browser", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-collab-browser-"));
  let app: AppProcess;
  let browser: Browser;
  let f: CollabFixture;
  let pageUrl = "";
  const contexts: BrowserContext[] = [];

  async function openAs(role: "EDITOR" | "ADMIN" | "VIEWER"): Promise<Page> {
    const cookie = await signInOverHttp(app.url, f.users[role].email, PASSWORD);
    const context = await signedInContext(browser, app.url, cookie);
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(pageUrl);
    const editor = page.getByTestId("collab-policy-editor");
    await editor.waitFor({ timeout: 30_000 }).catch(() => {
      throw new Error(`${pageUrl} does not render <PolicyEditor> (app/_components/collab/PolicyEditor.tsx) yet`);
    });
    return page;
  }

  const content = (page: Page) => page.locator(".cm-content");
  // The document's text, without the remote-cursor widgets (name labels) that CodeMirror shows inline.
  const text = (page: Page) =>
    content(page).evaluate((element) => {
      const clone = element.cloneNode(true) as HTMLElement;
      clone.querySelectorAll(".cm-ySelectionCaret").forEach((caret) => caret.remove());
      return Array.from(clone.querySelectorAll(".cm-line"), (line) => line.textContent ?? "").join("\n");
    });

  beforeAll(async () => {
    const embedded = await startEmbeddedDatabase({ dataDir: path.join(dataDir, "pglite") });
    try {
      await applyMigrations(embedded.url);
      const db = createPrismaClient(embedded.url);
      f = await createCollabFixture(db, PASSWORD);
      const docName = await f.createPolicy("# 1. Refunds\nCustomers may ask for a refund within 30 days.\n", "Refund policy");
      pageUrl = `/orgs/${f.orgId}/projects/${f.projectId}/policies/${docName.slice("policy:".length)}`;
      await db.$disconnect();
    } finally {
      await embedded.stop();
    }
    app = await startAppProcess({ port: await freePort(), dataDir, env: { HEARTH_SEED_DEMO: "0" } });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await app?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("shows each person's text and cursor to the other, merges offline edits, and keeps a VIEWER read-only", async () => {
    const eve = await openAs("EDITOR");
    const ada = await openAs("ADMIN");
    for (const page of [eve, ada]) {
      await page.getByTestId("collab-connection").and(page.locator("[data-state=connected]")).waitFor();
      await expect.poll(() => text(page)).toContain("Customers may ask for a refund within 30 days.");
    }

    await content(eve).click();
    await eve.keyboard.press("Control+End");
    await eve.keyboard.type("Eve was here.");
    await expect.poll(() => text(ada), { timeout: 10_000 }).toContain("Eve was here.");
    await content(ada).click();
    await ada.keyboard.press("Control+Home");
    await ada.keyboard.type("Ada first. ");
    await expect.poll(() => text(eve), { timeout: 10_000 }).toContain("Ada first. ");
    // Remote cursors carry the other person's name (y-codemirror.next carets).
    await expect.poll(() => ada.locator(".cm-ySelectionInfo").allInnerTexts(), { timeout: 10_000 }).toContain("Eve Editor");
    await expect.poll(() => eve.locator(".cm-ySelectionInfo").allInnerTexts(), { timeout: 10_000 }).toContain("Ada Admin");
    await expect.poll(() => eve.getByTestId("collab-avatars").locator("li").count()).toBe(2);
    await eve.screenshot({ path: screenshotPath("collab-policy-two-editors"), fullPage: true });

    // Eve goes offline and keeps typing; Ada types too; both converge when Eve is back.
    await eve.context().setOffline(true);
    await eve.getByTestId("collab-connection").and(eve.locator("[data-state=offline]")).waitFor();
    await content(eve).click();
    await eve.keyboard.press("Control+End");
    await eve.keyboard.type(" Offline edit.");
    await content(ada).click();
    await ada.keyboard.press("Control+Home");
    await ada.keyboard.type("Online edit. ");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await text(ada)).not.toContain("Offline edit.");
    await eve.context().setOffline(false);
    await eve.getByTestId("collab-connection").and(eve.locator("[data-state=connected]")).waitFor({ timeout: 15_000 });
    for (const page of [eve, ada]) {
      await expect.poll(() => text(page), { timeout: 10_000 }).toContain("Offline edit.");
      await expect.poll(() => text(page), { timeout: 10_000 }).toContain("Online edit. ");
    }
    await expect.poll(async () => (await text(eve)) === (await text(ada)), { timeout: 10_000 }).toBe(true);

    const vic = await openAs("VIEWER");
    await expect.poll(() => text(vic), { timeout: 10_000 }).toBe(await text(eve));
    await vic.getByTestId("collab-read-only").waitFor();
    await content(vic).click();
    await vic.keyboard.type("VIEWER TYPING");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await text(vic)).not.toContain("VIEWER TYPING");
    expect(await text(eve)).not.toContain("VIEWER TYPING");
    await vic.screenshot({ path: screenshotPath("collab-policy-viewer"), fullPage: true });
  });
});
