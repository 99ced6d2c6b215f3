// The review page in a browser (#20): two reviewers in two browsers get different items (the locks
// hold), and one labels ten items with the keyboard alone: a key per score, Enter to save and go on,
// the arrows to go back and change a label. What was stored is read back over the API.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

describe("the review page in a browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("keeps two reviewers on different items, and labels ten items with the keyboard alone", async () => {
    const people = [`${unique("rae")}@example.test`, `${unique("lou")}@example.test`];
    const cookies: string[] = [];
    for (const email of people) {
      await trpcHttp(app.url, "mutation", "user.signUp", { email, name: email.split("-")[0], password: "review-password-123" });
      cookies.push(await signInOverHttp(app.url, email, "review-password-123"));
    }
    const call = async (cookie: string, type: "query" | "mutation", path: string, input: unknown) => (await trpcHttp(app.url, type, path, input, { cookie })).body.result.data.json;
    const org = await call(cookies[0], "mutation", "org.create", { name: "Review Org" });
    const project = await call(cookies[0], "mutation", "project.create", { orgId: org.id, name: "Support answers" });
    const { token } = await call(cookies[0], "mutation", "invite.create", { orgId: org.id, role: "EDITOR" });
    await call(cookies[1], "mutation", "invite.accept", { token });
    const queue = await call(cookies[0], "mutation", "review.create", {
      projectId: project.id,
      name: "refund answers",
      scoreSchema: { pass: true, categories: ["helpful", "evasive", "wrong"], correction: true, comment: true },
    });
    const policy = await call(cookies[0], "mutation", "policy.create", { projectId: project.id, key: "refunds", title: "Refunds" });
    await call(cookies[0], "mutation", "policy.update", { policyId: policy.id, draft: "# Refunds {#c-refunds}\n\n## 4.2 Refund window {#c-refund-window}\nRefunds within thirty days of delivery.\n\n## 4.3 Store credit {#c-credit}\nAfter that, store credit." });
    // Output that looks like markup must show as text.
    const items = Array.from({ length: 12 }, (_, i) => ({
      input: `Customer question ${i + 1}: can I get a refund?`,
      output: i === 0 ? "<b>Sure</b> <script>alert(1)</script>" : `Answer ${i + 1}`,
      expected: "No after 30 days.",
      clauseIds: ["c-refund-window"],
    }));
    await call(cookies[0], "mutation", "review.addItems", { reviewQueueId: queue.id, items });

    const url = `/orgs/${org.id}/projects/${project.id}/review/${queue.id}`;
    const open = async (cookie: string): Promise<Page> => {
      const page = await (await signedInContext(browser, app.url, cookie)).newPage();
      await page.goto(url);
      await page.getByTestId("review-input").waitFor({ timeout: 30_000 });
      return page;
    };
    const rae = await open(cookies[0]);
    expect(await rae.getByTestId("review-output").textContent()).toBe("<b>Sure</b> <script>alert(1)</script>");
    expect(await rae.locator(".review-text b").count()).toBe(0);
    expect(await rae.getByTestId("review-clause").textContent()).toBe("## 4.2 Refund window\nRefunds within thirty days of delivery.");
    const lou = await open(cookies[1]);
    // The locks hold: Lou gets the second item while Rae holds the first.
    expect(await rae.getByTestId("review-item-position").textContent()).toBe("item 1");
    expect(await lou.getByTestId("review-item-position").textContent()).toBe("item 2");

    // Rae labels ten items with keys only: p/f for pass and fail, 1-3 for the labels, Enter to save.
    const expected: { position: number; pass: boolean; category: string }[] = [];
    for (let n = 0; n < 10; n++) {
      const position = Number((await rae.getByTestId("review-item-position").textContent())!.replace("item ", ""));
      const pass = n % 3 !== 0;
      const category = ["helpful", "evasive", "wrong"][n % 3];
      await rae.keyboard.press(pass ? "p" : "f");
      await rae.keyboard.press(String((n % 3) + 1));
      expect(await rae.getByTestId(pass ? "key-p" : "key-f").getAttribute("aria-pressed")).toBe("true");
      await rae.keyboard.press("Enter");
      await rae.getByTestId("review-progress").getByText(`${n + 1} labelled`).waitFor();
      expected.push({ position, pass, category });
    }
    // Item 2 was Lou's: Rae never saw it.
    expect(expected.map((e) => e.position)).toEqual([1, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Left for Rae: item 12, and item 2 while Lou holds it without a label.
    expect(await rae.getByTestId("review-progress").textContent()).toContain("10 labelled · 2 left");

    // Back one with the left arrow: the last label shows; change it to a pass and save.
    await rae.keyboard.press("ArrowLeft");
    await rae.getByTestId("review-progress").getByText("looking back").waitFor();
    expect(await rae.getByTestId("review-item-position").textContent()).toBe("item 11");
    expect(await rae.getByTestId("key-1").getAttribute("aria-pressed")).toBe("true");
    await rae.keyboard.press("p");
    await rae.keyboard.press("Enter");
    expected[9].pass = true;
    await rae.getByTestId("review-item-position").getByText("item 12").waitFor();
    await rae.screenshot({ path: screenshotPath("review-keyboard"), fullPage: true });

    const agreementPage = await call(cookies[0], "query", "review.get", { reviewQueueId: queue.id });
    expect(agreementPage.reviewers.find((r: { name: string }) => r.name === people[0].split("-")[0]).labelled).toBe(10);
    for (const e of expected) {
      const itemId = (await call(cookies[0], "query", "review.mine", { reviewQueueId: queue.id }))[expected.indexOf(e)];
      const stored = await call(cookies[0], "query", "review.item", { reviewItemId: itemId });
      expect({ position: stored.position, pass: stored.myLabel.pass, category: stored.myLabel.category }).toEqual(e);
    }
    // The queue's card shows its progress, and the agreement page its reviewers.
    await rae.goto(`/orgs/${org.id}/projects/${project.id}/review`);
    await rae.getByTestId("review-queue").getByText("10 of 12 items done").waitFor();
    await rae.screenshot({ path: screenshotPath("review-queues"), fullPage: true });
    await rae.getByRole("link", { name: "Agreement" }).click();
    await rae.getByTestId("agreement").waitFor();
    expect(await rae.getByTestId("agreement").textContent()).toContain("needs two labels per item");
    await rae.context().close();
    await lou.context().close();
  });

  it("makes a case from pasted text that an open suite editor shows at once, with its provenance", async () => {
    const email = `${unique("ina")}@example.test`;
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Ina", password: "review-password-123" });
    const cookie = await signInOverHttp(app.url, email, "review-password-123");
    const call = async (path: string, input: unknown) => (await trpcHttp(app.url, "mutation", path, input, { cookie })).body.result.data.json;
    const org = await call("org.create", { name: "Incident Org" });
    const project = await call("project.create", { orgId: org.id, name: "Incidents" });
    const policy = await call("policy.create", { projectId: project.id, key: "refunds", title: "Refunds" });
    await call("policy.update", { policyId: policy.id, draft: "# Refunds {#c-refunds}\n\n## 4.2 Refund window {#c-refund-window}\nThirty days." });
    const suite = await call("suite.create", { projectId: project.id, name: "regressions" });
    await call("suite.setCases", { suiteId: suite.id, cases: [{ id: "first", input: "hi", expected: "hello", graders: [{ type: "contains", values: ["hello"] }], tags: [], clauses: [] }] });

    const context = await signedInContext(browser, app.url, cookie);
    const editor = await context.newPage();
    await editor.goto(`/orgs/${org.id}/projects/${project.id}/suites/${suite.id}`);
    await editor.getByRole("button", { name: "Show editor" }).click();
    await editor.getByTestId("collab-suite-editor").getByText("Connected").waitFor({ timeout: 30_000 });

    const maker = await context.newPage();
    await maker.goto(`/orgs/${org.id}/projects/${project.id}/review/make-case?suite=${suite.id}`);
    await maker.getByLabel("Input").fill("My parcel never came and I waited 40 days, refund?");
    await maker.getByLabel("Actual output").fill("Refunds are not possible.");
    await maker.getByLabel("Expected behaviour").fill("Offer the refund: the parcel was never delivered.");
    await maker.getByLabel("Phrases").fill("refund");
    await maker.getByLabel("Policy").selectOption({ label: "Refunds" });
    await maker.getByLabel("Clause").selectOption("c-refund-window");
    await maker.getByRole("button", { name: "Add to the suite" }).click();
    const made = maker.getByTestId("case-made");
    await made.waitFor();
    const caseId = (await made.locator("code").textContent())!;
    expect(caseId).toMatch(/^incident-/);

    // The open editor shows the new case without a reload, with where it came from and who made it.
    const row = editor.locator(`[data-testid="suite-case"][data-case-id="${caseId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await row.getByTestId("case-provenance").textContent()).toContain(`From pasted text by ${email}`);
    await row.getByRole("button", { name: `Edit ${caseId}` }).click();
    expect(await editor.getByTestId("case-panel").getByLabel(`Input of ${caseId}`).inputValue()).toBe("My parcel never came and I waited 40 days, refund?");
    await editor.screenshot({ path: screenshotPath("review-make-case"), fullPage: true });
    const draft = (await trpcHttp(app.url, "query", "suite.get", { suiteId: suite.id }, { cookie })).body.result.data.json.draft;
    expect(draft.at(-1)).toMatchObject({ id: caseId, clauses: ["c-refund-window"], graders: [{ type: "contains", values: ["refund"] }], metadata: { provenance: { from: "pasted-text", actualOutput: "Refunds are not possible." } } });
    await context.close();
  });
});
