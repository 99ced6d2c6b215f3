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
    // Adding opens the new case beside the list; the other editor opens it from the list.
    await kim.getByRole("button", { name: `Edit ${added}` }).click();
    await kim.getByLabel(`Input of ${added}`).fill("third?");
    await expect.poll(() => sam.getByLabel(`Input of ${added}`).inputValue(), { timeout: 10_000 }).toBe("third?");
    await sam.getByRole("button", { name: "Edit first" }).click();
    await sam.getByLabel(`Expected of first`).fill("certainly yes");
    await kim.getByRole("button", { name: "Edit first" }).click();
    await expect.poll(() => kim.getByLabel("Expected of first").inputValue(), { timeout: 10_000 }).toBe("certainly yes");

    // The new case has no graders: both see why it would not publish.
    await expect.poll(() => kim.locator(`[data-case-id="${added}"] [data-testid=case-status]`).textContent(), { timeout: 10_000 }).toContain("Will not publish");

    await kim.getByRole("button", { name: `Move ${added} up` }).click();
    await expect.poll(() => order(sam), { timeout: 10_000 }).toEqual(["first", added, "second"]);
    await sam.screenshot({ path: screenshotPath("collab-suite-grid"), fullPage: true });
    await sam.context().close();
    await kim.context().close();
  });

  it("fits a laptop: links a clause through the picker, builds a grader and tries it, and counts a co-editor's new case live", async () => {
    const email = `${unique("lee")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Lee", password: "suite-password-123" });
    const cookie = await signInOverHttp(app.url, email, "suite-password-123");
    const call = async (path: string, input: unknown) => (await trpcHttp(app.url, "mutation", path, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Picker Org" });
    const project = await call("project.create", { orgId: org.id, name: "Picker" });
    await call("policy.create", { projectId: project.id, key: "shipping", title: "Shipping policy", draft: "# 1. Delivery\nOrders ship within 2 business days.\n\n# 2. Tracking\nEvery order has a tracking link in its confirmation email." });
    const suite = await call("suite.create", { projectId: project.id, name: "Shipping answers" });
    const longInput = `Where is my parcel? ${"I ordered it last week and nothing has arrived yet. ".repeat(8)}`;
    await call("suite.setCases", { suiteId: suite.id, cases: [{ id: "where-is-it", input: longInput, expected: "The tracking link", graders: [{ type: "contains", values: ["tracking"] }], tags: [], clauses: [] }] });

    const context = await contextFor(cookie);
    const page = await context.newPage();
    await page.setViewportSize({ width: 1366, height: 768 });
    await page.goto(`/orgs/${org.id}/projects/${project.id}/suites/${suite.id}`);
    await page.getByRole("button", { name: "Show editor" }).click();
    await page.getByTestId("collab-suite-editor").getByText("Connected").waitFor({ timeout: 30_000 });
    const noSideways = () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
    expect(await noSideways()).toBe(true);

    // the long case opens in the side panel; tags are chips
    await page.getByRole("button", { name: "Edit where-is-it" }).click();
    const panel = page.getByTestId("case-panel");
    await panel.getByLabel("Add to tags").fill("shipping");
    await panel.getByLabel("Add to tags").press("Enter");
    // the picker searches the project's policies and shows each clause's title and text
    await panel.getByLabel("Search clauses").fill("confirmation email");
    const option = panel.getByRole("option").filter({ hasText: "2 Tracking" });
    await expect(option.textContent()).resolves.toContain("Every order has a tracking link in its confirmation email.");
    await option.getByRole("button").click();
    await panel.getByTestId("clause-picker").locator(".chip-clause", { hasText: "§ 2 Tracking" }).waitFor();
    await page.locator('[data-case-id="where-is-it"] .chip-clause', { hasText: "2 Tracking" }).waitFor();

    // a grader built with the builder, tried on a sample answer: the reason is shown
    await panel.getByLabel("Add a grader").selectOption("forbidden");
    const built = panel.getByTestId("grader-1");
    await built.getByText("Fails when the answer contains any of the phrases").waitFor();
    await built.getByLabel("Phrases").fill("card number");
    await built.getByLabel("Sample answer for grader 2").fill("Please send me your card number.");
    await built.getByRole("button", { name: "Grade this answer" }).click();
    await expect(built.getByTestId("try-result").textContent()).resolves.toMatch(/^Fail · score 0\.00 · .*card number/);
    await built.getByLabel("Sample answer for grader 2").fill("Your tracking link is in the confirmation email.");
    await built.getByRole("button", { name: "Grade this answer" }).click();
    await expect(built.getByTestId("try-result").textContent()).resolves.toMatch(/^Pass · score 1\.00/);
    expect(await noSideways()).toBe(true);
    await page.screenshot({ path: screenshotPath("suite-editor-panel") });

    // what the builder and picker wrote is the case the server publishes
    const clauses = (await trpcHttp(app.url, "query", "policy.clauses", { projectId: project.id }, { cookie })).body.result.data.json;
    const trackingId = clauses[0].clauses.find((c: { title: string }) => c.title === "Tracking").id;
    await expect
      .poll(async () => (await trpcHttp(app.url, "query", "suite.get", { suiteId: suite.id }, { cookie })).body.result.data.json.draft[0], { timeout: 15_000 })
      .toMatchObject({ tags: ["shipping"], clauses: [trackingId], graders: [{ type: "contains", values: ["tracking"] }, { type: "forbidden", phrases: ["card number"] }] });

    // a second editor's new case reaches this page's list and count without a reload
    await page.getByTestId("case-panel").getByRole("button", { name: "Close" }).click();
    expect(await page.getByTestId("suite-case-count").textContent()).toBe("1 case");
    const other = await (await contextFor(cookie)).newPage();
    await other.goto(`/orgs/${org.id}/projects/${project.id}/suites/${suite.id}`);
    await other.getByRole("button", { name: "Show editor" }).click();
    await other.getByTestId("collab-suite-editor").getByText("Connected").waitFor({ timeout: 30_000 });
    await other.getByRole("button", { name: "Add case" }).click();
    await other.getByTestId("case-panel").getByLabel(/^Input of /).fill("Can I change the address?");
    await expect.poll(() => page.getByTestId("suite-case-count").textContent(), { timeout: 10_000 }).toBe("2 cases");
    await page.getByTestId("cases").getByText("Can I change the address?").waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath("suite-editor-live"), fullPage: true });
    await other.context().close();
    await context.close();
  });
});
