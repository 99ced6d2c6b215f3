// A policy change in a browser (#21 item 3): publishing a version that edits a clause says how many
// cases were marked; the suite shows a "needs review" badge on exactly the case citing that clause, the
// case panel shows the clause before and after as text, and "Mark reviewed" clears it.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

const policyText = (receipts: string) => `# Refunds\n\n## 1. Window\nThirty days.\n\n## 2. Receipts\n${receipts}\n`;

describe("cases that need review after a policy change, in a browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("marks the case citing the edited clause, shows the change, and clears it when marked reviewed", async () => {
    const email = `${unique("pia")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Pia", password: "review-password-123" });
    const cookie = await signInOverHttp(app.url, email, "review-password-123");
    const call = async (type: "query" | "mutation", path: string, input: unknown) => (await trpcHttp(app.url, type, path, input, { cookie })).body.result.data.json;
    const org = await call("mutation", "org.create", { name: "Policy Org" });
    const project = await call("mutation", "project.create", { orgId: org.id, name: "Refund answers" });
    const policy = await call("mutation", "policy.create", { projectId: project.id, key: "refunds", title: "Refunds", draft: policyText("A receipt is needed.") });
    const { clauses } = await call("query", "policy.get", { policyId: policy.id });
    const clauseId = (title: string) => clauses.find((c: { title: string }) => c.title === title).id as string;
    const suite = await call("mutation", "suite.create", { projectId: project.id, name: "Refunds" });
    const testCase = (id: string, cites: string[]) => ({ id, input: `Question ${id}?`, expected: "No", graders: [{ type: "contains", values: ["no"] }], tags: [], clauses: cites });
    await call("mutation", "suite.setCases", { suiteId: suite.id, cases: [testCase("window-case", [clauseId("Window")]), testCase("receipt-case", [clauseId("Receipts")])] });
    await call("mutation", "policy.publish", { policyId: policy.id, message: "v1" });
    await call("mutation", "policy.update", { policyId: policy.id, draft: policyText("A receipt or a <b>bank statement</b> is needed.") });

    const page = await (await signedInContext(browser, app.url, cookie)).newPage();
    await page.goto(`/orgs/${org.id}/projects/${project.id}/policies/${policy.id}`);
    await page.getByRole("button", { name: "Review changes and publish" }).click();
    await page.getByPlaceholder("What changed and why").fill("Bank statements too");
    await page.getByRole("button", { name: "Publish version 2" }).click();
    const published = page.getByTestId("published");
    await published.waitFor({ timeout: 30_000 });
    expect((await published.textContent())!.replace(/\s+/g, " ")).toContain("1 case citing the 1 changed or removed clause was marked");

    await page.goto(`/orgs/${org.id}/projects/${project.id}/suites/${suite.id}`);
    await page.getByTestId("cases-need-review").waitFor({ timeout: 30_000 });
    await page.getByRole("button", { name: "Show editor" }).click();
    const row = (id: string) => page.locator(`[data-testid="suite-case"][data-case-id="${id}"]`);
    await row("receipt-case").getByTestId("needs-review").waitFor({ timeout: 30_000 });
    expect(await row("receipt-case").getByTestId("needs-review").textContent()).toContain("2 Receipts changed in policy version 2");
    expect(await row("window-case").getByTestId("needs-review").count()).toBe(0);

    await page.getByRole("button", { name: "Edit receipt-case" }).click();
    const panel = page.getByTestId("case-panel");
    // the badge stays in view beside the open panel
    expect(await row("receipt-case").getByTestId("needs-review").isVisible()).toBe(true);
    expect(await panel.getByTestId("clause-before").textContent()).toBe("## 2. Receipts\nA receipt is needed.");
    // the new text shows as text, never as markup
    expect(await panel.getByTestId("clause-after").textContent()).toBe("## 2. Receipts\nA receipt or a <b>bank statement</b> is needed.");
    expect(await panel.locator("[data-testid=clause-after] b").count()).toBe(0);
    await page.screenshot({ path: screenshotPath("case-needs-review"), fullPage: true });

    await panel.getByRole("button", { name: "Mark reviewed" }).click();
    await panel.getByTestId("clause-change").waitFor({ state: "detached", timeout: 15_000 });
    await row("receipt-case").getByTestId("needs-review").waitFor({ state: "detached", timeout: 15_000 });
    expect(await call("query", "caseReview.suite", { suiteId: suite.id })).toEqual([]);
  });
});
