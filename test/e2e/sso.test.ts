// Company SSO: sign in through a real OpenID Connect provider started by the test harness.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchBrowser } from "../support/browser";
import { unique } from "../support/fixtures";

const app = inject("app");

describe("single sign-on over OpenID Connect", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("signs a new person in through the provider and creates their account", async () => {
    const login = unique("carol");
    const page = await browser.newPage({ baseURL: app.url });
    await page.goto("/signin");
    await page.getByRole("button", { name: `Sign in with ${app.ssoName}` }).click();
    // The provider's own login and consent pages.
    await page.waitForURL((url) => !url.href.startsWith(app.url));
    await page.locator("input[name=login]").fill(login);
    await page.locator("input[name=password]").fill("anything");
    await page.locator("button[type=submit]").click();
    await page.locator("button[type=submit]").filter({ hasText: /continue/i }).click();
    await page.waitForURL(`${app.url}/orgs`);
    await expect(page.getByTestId("signed-in-as").textContent()).resolves.toBe(`${login}@sso.example.test`);

    // The session works for the API too, and a second sign-in reuses the same account.
    const me = await page.evaluate(() => fetch("/api/trpc/user.me").then((r) => r.json()));
    expect(me.result.data.json.email).toBe(`${login}@sso.example.test`);
    await page.close();
  });
});
