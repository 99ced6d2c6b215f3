// The Content-Security-Policy (proxy.ts): every page carries a fresh nonce that Next puts on its
// scripts, an inline script without it is blocked, and the browser harness (test/support/browser.ts)
// sees the violation, as it would fail any other browser test that caused one.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { cspViolations, launchBrowser } from "../support/browser";

const app = inject("app");

describe("Content-Security-Policy", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("sends a policy with a fresh nonce on each page, and every script of the page carries it", async () => {
    const nonces = new Set<string>();
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${app.url}/signin`);
      const policy = res.headers.get("content-security-policy") ?? "";
      const nonce = /'nonce-([^']+)'/.exec(policy)?.[1];
      expect(nonce, policy).toBeTruthy();
      expect(policy).not.toContain("'unsafe-inline' 'strict-dynamic'");
      expect(policy).toMatch(/script-src [^;]*'strict-dynamic'/);
      nonces.add(nonce!);
      const html = await res.text();
      const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
      expect(scripts.length).toBeGreaterThan(0);
      for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    }
    expect(nonces.size).toBe(2);
  });

  it("loads the sign-in page with no violation, and reports an inline handler the policy blocks", async () => {
    const page = await browser.newPage({ baseURL: app.url });
    await page.goto("/signin");
    await page.getByRole("button").first().waitFor();
    expect(cspViolations).toEqual([]);
    await page.evaluate(() => {
      const button = document.createElement("button");
      button.id = "injected";
      button.setAttribute("onclick", "document.title = 'ran'");
      document.body.append(button);
    });
    await page.click("#injected");
    await expect.poll(() => cspViolations.length).toBeGreaterThan(0);
    expect(await page.title()).not.toBe("ran");
    expect(cspViolations.splice(0).join("\n")).toContain("script-src");
    await page.close();
  });
});
