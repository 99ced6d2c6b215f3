// The live suite grid in two browsers: cases added, edited cell by cell and reordered by one person
// appear for the other; a case that would not publish is marked with the reason.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

describe("the live suite editor", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  const contextFor = (cookie: string) => signedInContext(browser, app.url, cookie);

  it("shares adds, cell edits and moves between two editors, and marks a case that would not publish", async () => {
    const people = [`${unique("sam")}@example.test`, `${unique("kim")}@example.test`];
    const cookies: string[] = [];
    for (const email of people) {
      await trpcHttp(app.url, "mutation", "user.signUp", { email, name: email.split("-")[0], password: "suite-password-123" });
      cookies.push(await signInOverHttp(app.url, email, "suite-password-123"));
    }
    const call = async (cookie: string, path: string, input: unknown) => (await trpcHttp(app.url, "mutation", path, input, { cookie })).body.result.data.json;
    const org = await call(cookies[0], "org.create", { name: "Grid Org" });
    const project = await call(cookies[0], "project.create", { orgId: org.id, name: "Grid" });
    const { token } = await call(cookies[0], "invite.create", { orgId: org.id, role: "EDITOR" });
    await call(cookies[1], "invite.accept", { token });
    const suite = await call(cookies[0], "suite.create", { projectId: project.id, name: "live grid" });
    const graders = [{ type: "contains", values: ["yes"] }];
    await call(cookies[0], "suite.setCases", { suiteId: suite.id, cases: ["first", "second"].map((id) => ({ id, input: `${id}?`, expected: "yes", graders, tags: [], clauses: [] })) });

    const url = `/orgs/${org.id}/projects/${project.id}/suites/${suite.id}`;
    const open = async (cookie: string): Promise<Page> => {
      const page = await (await contextFor(cookie)).newPage();
      await page.goto(url);
      await page.getByRole("button", { name: "Show editor" }).click();
      await page.getByTestId("collab-suite-editor").getByText("Connected").waitFor({ timeout: 30_000 });
      return page;
    };
    const [sam, kim] = [await open(cookies[0]), await open(cookies[1])];
    const order = (page: Page) => page.getByTestId("suite-case").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-case-id")));
    await expect.poll(() => order(kim)).toEqual(["first", "second"]);

    await sam.getByRole("button", { name: "Add case" }).click();
    await expect.poll(() => order(kim), { timeout: 10_000 }).toHaveLength(3);
    const added = (await order(kim))[2]!;
    await kim.getByLabel(`Input of ${added}`).fill("third?");
    await sam.getByLabel(`Expected of first`).fill("certainly yes");
    await expect.poll(() => sam.getByLabel(`Input of ${added}`).inputValue(), { timeout: 10_000 }).toBe("third?");
    await expect.poll(() => kim.getByLabel("Expected of first").inputValue(), { timeout: 10_000 }).toBe("certainly yes");

    // The new case has no graders: both see why it would not publish.
    await expect.poll(() => kim.locator(`[data-case-id="${added}"] [data-testid=case-status]`).textContent(), { timeout: 10_000 }).toContain("Will not publish");

    await kim.getByRole("button", { name: `Move ${added} up` }).click();
    await expect.poll(() => order(sam), { timeout: 10_000 }).toEqual(["first", added, "second"]);
    await sam.screenshot({ path: screenshotPath("collab-suite-grid"), fullPage: true });
    await sam.context().close();
    await kim.context().close();
  });
});
