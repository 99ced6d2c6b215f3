// The records a team keeps, driven in a browser: a suite with cases published twice, an eval run recorded
// through the API as a runner would, its live chart, per-case results and the comparison with an earlier
// run, a promotion that a second admin approves, and a policy published with its diff.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

function caseLine(id: string, input: string, expected: string, tag: string, clause: string) {
  return JSON.stringify({ id, input, expected, graders: [{ type: "contains", values: [expected], caseInsensitive: true }], tags: [tag], clauses: [clause] });
}
const FIRST_CASES = [
  caseLine("refund-1", "Can I get a refund after 10 days?", "yes", "refunds", "refunds#1"),
  caseLine("refund-2", "Refund after 45 days?", "no", "refunds", "refunds#1"),
  caseLine("tone-1", "Reply to <b>an angry</b> customer", "sorry", "tone", "tone#2"),
].join("\n");
const MORE_CASES = [caseLine("tone-2", "Say thanks", "thank", "tone", "tone#2"), caseLine("shipping-1", "Where is my parcel?", "tracking", "shipping", "shipping#3")].join("\n");
const CASE_IDS = ["refund-1", "refund-2", "shipping-1", "tone-1", "tone-2"];

/** Calls the API as the given user and returns the procedure's data, failing loudly otherwise. */
async function call(cookie: string, kind: "query" | "mutation", path: string, input: unknown) {
  const response = await trpcHttp(app.url, kind, path, input, { cookie });
  if (response.status !== 200) throw new Error(`${path} failed (${response.status}): ${JSON.stringify(response.body.error?.json?.message)}`);
  return response.body.result.data.json;
}

const contextFor = (browser: Browser, cookie: string) => signedInContext(browser, app.url, cookie);

/** Records an eval run exactly as a runner does: create, RUNNING, results, metrics, SUCCEEDED. */
async function recordEvalRun(cookie: string, projectId: string, suiteVersionId: string, modelVersionId: string, passing: Set<string>, finish = true) {
  const run = await call(cookie, "mutation", "run.create", { projectId, kind: "EVAL", target: "NODE", suiteVersionId, modelVersionId });
  await call(cookie, "mutation", "run.transition", { runId: run.id, status: "RUNNING" });
  await call(cookie, "mutation", "run.recordResults", {
    runId: run.id,
    results: CASE_IDS.map((caseId) => {
      const pass = passing.has(caseId);
      // A failed shipping answer is whitespace only, which the page shows escaped rather than as a blank cell.
      const failed = caseId === "shipping-1" ? "  \n" : `<i>unhelpful</i> output of ${caseId}`;
      return { caseId, output: pass ? `Output of ${caseId}: yes no sorry thank tracking` : failed, grades: [{ grader: "contains", score: pass ? 1 : 0, pass, reason: pass ? "found the expected text" : "the expected text is missing" }], score: pass ? 1 : 0, pass };
    }),
  });
  const points = [];
  for (let step = 0; step < 2000; step++) {
    points.push({ name: "loss", step, value: 3 * Math.exp(-step / 500) + 0.1 * Math.sin(step / 20) });
    if (step % 10 === 0) points.push({ name: "accuracy", step, value: Math.min(1, step / 1800) });
  }
  await call(cookie, "mutation", "run.logMetrics", { runId: run.id, points });
  if (finish) await call(cookie, "mutation", "run.transition", { runId: run.id, status: "SUCCEEDED" });
  return run.id as string;
}

describe("suites, runs and models in a browser", () => {
  let browser: Browser;
  const alice = { name: "Alice Admin", email: `${unique("alice")}@example.test`, password: "alice-password-123" };
  const bob = { name: "Bob Second", email: `${unique("bob")}@example.test`, password: "bob-password-1234" };
  let aliceCookie = "";
  let bobCookie = "";
  let orgId = "";
  let projectId = "";
  let projectUrl = "";
  let suiteUrl = "";
  let suiteId = "";
  let modelId = "";
  let baseRunId = "";
  let runId = "";

  beforeAll(async () => {
    browser = await launchBrowser();
    for (const person of [alice, bob]) await call("", "mutation", "user.signUp", person);
    aliceCookie = await signInOverHttp(app.url, alice.email, alice.password);
    bobCookie = await signInOverHttp(app.url, bob.email, bob.password);
    orgId = (await call(aliceCookie, "mutation", "org.create", { name: `Initech ${unique("o")}` })).id;
    projectId = (await call(aliceCookie, "mutation", "project.create", { orgId, name: "Support bot" })).id;
    const { token } = await call(aliceCookie, "mutation", "invite.create", { orgId, role: "ADMIN", email: bob.email });
    await call(bobCookie, "mutation", "invite.accept", { token });
    projectUrl = `/orgs/${orgId}/projects/${projectId}`;
  });
  afterAll(async () => browser?.close());

  it("creates a suite, publishes version 1, imports more cases and publishes version 2", async () => {
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(projectUrl);
    await expect(page.getByTestId("count-suites").textContent()).resolves.toBe("0");
    // The sidebar names every section and the slug that API calls and /v1 model ids use.
    const nav = page.getByTestId("project-nav");
    expect(await nav.getByRole("link").allTextContents()).toEqual(["Support bot", "Overview", "Dashboard", "Policies", "Eval suites", "Datasets", "Train", "Models", "Runs", "Review", "Schedules", "Playground", "Endpoints"]);
    await expect(nav.getByTestId("project-slug").textContent()).resolves.toBe("support-bot");
    await page.getByTestId("project-nav").getByRole("link", { name: "Eval suites" }).click();
    await page.getByLabel("Name").fill("Support answers");
    await page.getByLabel("Description").fill("What the support bot must say");
    await page.getByRole("button", { name: "Create suite" }).click();
    await page.waitForURL(/\/suites\/[^/?]+$/);
    suiteUrl = new URL(page.url()).pathname;
    suiteId = suiteUrl.split("/").pop()!;

    await importFile(page, "first.jsonl", FIRST_CASES, "Imported 3 cases; the working copy now has 3.");
    await page.getByTestId("case-count").filter({ hasText: "Showing 3 of 3 cases." }).waitFor();
    // Case text is shown as text, never as markup.
    await expect(page.getByTestId("cases").textContent()).resolves.toContain("Reply to <b>an angry</b> customer");
    await publish(page, "First three cases", 1, 3);

    await importFile(page, "more.jsonl", MORE_CASES, "Imported 2 cases; the working copy now has 5.");
    await page.getByTestId("case-count").filter({ hasText: "Showing 5 of 5 cases." }).waitFor();
    await page.getByRole("button", { name: "Review changes and publish" }).click();
    const diff = page.getByTestId("suite-diff");
    await diff.waitFor();
    expect(await diff.locator("tbody tr").count()).toBe(2);
    expect(await diff.textContent()).toContain("shipping-1");
    await page.getByLabel("Message").fill("Tone and shipping cases");
    await page.getByRole("button", { name: "Publish version 2" }).click();
    await expect(page.getByTestId("publish-result").textContent()).resolves.toContain("version 2 with 5 cases");

    // Search and filters live in the URL, so a filtered view can be shared.
    await page.getByLabel("Tag").selectOption("tone");
    await page.waitForURL(/tag=tone/);
    await page.getByTestId("case-count").filter({ hasText: "Showing 2 of 5 cases." }).waitFor();
    await page.goto(`${suiteUrl}?tab=cases&tag=refunds&q=45`);
    await page.getByTestId("case-count").filter({ hasText: "Showing 1 of 5 cases." }).waitFor();

    await page.getByRole("link", { name: "Versions" }).click();
    const versions = page.getByTestId("suite-versions");
    await versions.waitFor();
    const text = (await versions.textContent())!;
    expect(text).toContain("First three cases");
    expect(text).toContain("Tone and shipping cases");
    expect(await versions.locator("tbody tr").count()).toBe(2);
    const download = page.waitForEvent("download");
    await versions.getByRole("button", { name: "Export .jsonl" }).first().click();
    expect((await download).suggestedFilename()).toBe("Support_answers-v2.jsonl");

    await page.getByRole("link", { name: "Settings" }).click();
    await page.getByLabel("Overall pass rate (%)").fill("60");
    await page.getByRole("button", { name: "Save thresholds" }).click();
    await page.getByText("Thresholds saved.").waitFor();
    await context.close();
  });

  it("shows an eval run recorded through the API: live chart, per-case results and the comparison", async () => {
    const suite = await call(aliceCookie, "query", "suite.get", { suiteId });
    const v2 = suite.versions.find((v: { version: number }) => v.version === 2).id;
    const model = await call(aliceCookie, "mutation", "model.create", { projectId, name: "support-small" });
    modelId = model.id;
    const m1 = await call(aliceCookie, "mutation", "model.createVersion", { modelId, config: { n_layer: 2 } });
    const m2 = await call(aliceCookie, "mutation", "model.createVersion", { modelId, config: { n_layer: 2 }, parentVersionId: m1.id });
    await call(aliceCookie, "mutation", "model.createVersion", { modelId, config: { n_layer: 4 }, parentVersionId: m1.id });
    await call(aliceCookie, "mutation", "model.createVersion", { modelId, config: { n_layer: 2 }, parentVersionId: m2.id });
    baseRunId = await recordEvalRun(aliceCookie, projectId, v2, m1.id, new Set(["refund-1", "refund-2", "tone-1"]));
    runId = await recordEvalRun(aliceCookie, projectId, v2, m2.id, new Set(["refund-1", "refund-2", "tone-2", "shipping-1"]), false);

    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(`${projectUrl}/runs/${runId}`);
    await page.getByTestId("metric-chart-loss").locator("canvas").waitFor();
    await expect(page.getByTestId("metric-count").textContent()).resolves.toContain("2 metrics, 2,200 points");
    // Points logged while the page is open arrive over the live feed.
    await page.getByText("● live").waitFor();
    await call(aliceCookie, "mutation", "run.logMetrics", { runId, points: Array.from({ length: 100 }, (_, i) => ({ name: "loss", step: 2000 + i, value: 0.05 })) });
    await page.getByText("2 metrics, 2,300 points").waitFor();
    await call(aliceCookie, "mutation", "run.transition", { runId, status: "SUCCEEDED" });
    await page.getByTestId("run-summary").waitFor();
    await expect(page.getByTestId("run-summary").textContent()).resolves.toContain("80.0%");
    // A finished run is never shown as live: its page says the metrics are final.
    await page.getByTestId("metrics-live").filter({ hasText: "run ended: final metrics" }).waitFor();
    expect(await page.getByText("● live").count()).toBe(0);
    // The run names what it measured, each a link.
    const inputs = page.getByTestId("run-inputs");
    await expect(inputs.getByRole("link", { name: "support-small v2" }).getAttribute("href")).resolves.toBe(`${projectUrl}/models/${modelId}`);
    await expect(inputs.getByRole("link", { name: "Support answers v2" }).getAttribute("href")).resolves.toContain(`${projectUrl}/suites/${suiteId}`);
    // Per clause: refunds#1 2/2, tone#2 1/2 (tone-1 failed), shipping#3 1/1; weakest first.
    const clauseRows = page.getByTestId("clause-results").locator("tbody tr");
    expect(await clauseRows.count()).toBe(3);
    expect((await clauseRows.first().textContent())!.replace(/\s+/g, " ")).toMatch(/tone#2.*1\/2.*50\.0%/);
    // One chart per metric, each on its own axis: the loss axis spans the loss (about -0.1 to 3.1), not the step count.
    const lossChart = page.getByTestId("metric-chart-loss");
    await lossChart.locator("canvas").waitFor();
    const lossRange = [Number(await lossChart.getAttribute("data-y-min")), Number(await lossChart.getAttribute("data-y-max"))];
    expect(lossRange[0]).toBeLessThanOrEqual(0.05);
    expect(lossRange[0]).toBeGreaterThan(-0.5);
    expect(lossRange[1]).toBeGreaterThanOrEqual(3);
    expect(lossRange[1]).toBeLessThan(3.5);
    const accuracyChart = page.getByTestId("metric-chart-accuracy");
    expect([Number(await accuracyChart.getAttribute("data-y-min")), Number(await accuracyChart.getAttribute("data-y-max"))]).toEqual([0, 1]);
    await page.screenshot({ path: screenshotPath("records-run-chart"), fullPage: true });
    await page.getByRole("button", { name: "Show as table" }).click();
    await expect(page.getByTestId("metrics-table").textContent()).resolves.toContain("The last 200 of 2100 steps");
    await page.getByRole("button", { name: "Show chart" }).click();

    await page.getByRole("link", { name: "Results" }).click();
    const results = page.getByTestId("results");
    await results.waitFor();
    expect(await results.locator("tbody tr").count()).toBe(5);
    const resultsText = (await results.textContent())!;
    expect(resultsText).toContain("Where is my parcel?");
    expect(resultsText).toContain("the expected text is missing");
    await page.getByLabel("Failures only").check();
    await page.waitForURL(/failures=1/);
    await page.waitForFunction(() => document.querySelectorAll("[data-testid=results] tbody tr").length === 1);
    expect(await results.textContent()).toContain("<i>unhelpful</i> output of tone-1");

    await page.getByRole("link", { name: "Compare" }).click();
    await page.getByTestId("compare-base").selectOption(baseRunId);
    const counts = page.getByTestId("compare-counts");
    await counts.waitFor();
    expect((await counts.textContent())!.replace(/\s+/g, " ")).toMatch(/1\s*regressed\s*2\s*improved\s*2\s*unchanged/);
    const firstRow = page.getByTestId("compare-rows").locator("tbody tr").first();
    await expect(firstRow.textContent()).resolves.toContain("tone-1");
    await expect(firstRow.textContent()).resolves.toContain("regressed");
    // The baseline's whitespace-only answer to shipping-1 is shown escaped.
    await expect(page.getByTestId("compare-rows").getByTestId("raw-output").textContent()).resolves.toBe(JSON.stringify("  \n"));
    await page.screenshot({ path: screenshotPath("records-run-compare"), fullPage: true });

    await page.goto(`${projectUrl}/runs`);
    await page.getByTestId("runs").waitFor();
    expect(await page.getByTestId("runs").locator("tbody tr").count()).toBe(2);
    await expect(page.getByTestId("runs").textContent()).resolves.toContain("80.0%");
    await context.close();
  });

  it("cancels a queued run from the runs list, warns that no node is online, retries it, and shows a training summary as a table", async () => {
    const suite = await call(aliceCookie, "query", "suite.get", { suiteId });
    const v2 = suite.versions.find((v: { version: number }) => v.version === 2).id;
    const versions = (await call(aliceCookie, "query", "model.get", { modelId })).versions as { id: string; version: number }[];
    const m1 = versions.find((v) => v.version === 1)!.id;
    const queued = await call(aliceCookie, "mutation", "run.create", { projectId, kind: "EVAL", target: "NODE", suiteVersionId: v2, modelVersionId: m1 });
    const training = await call(aliceCookie, "mutation", "run.create", { projectId, kind: "PRETRAIN", target: "NODE", config: { preset: "tiny" } });
    await call(aliceCookie, "mutation", "run.transition", { runId: training.id, status: "RUNNING" });
    await call(aliceCookie, "mutation", "run.transition", { runId: training.id, status: "SUCCEEDED", summary: { finalLoss: 0.4213, tokens: { seen: 123456 } } });

    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(`${projectUrl}/runs`);
    const row = page.locator(`[data-testid=runs] tr[data-run-id="${queued.id}"]`);
    await row.getByText("QUEUED").waitFor();
    await expect(row.getByRole("link", { name: "support-small v1" }).count()).resolves.toBe(1);
    await row.getByRole("button", { name: `Cancel run ${queued.id.slice(0, 10)}` }).click();
    await row.getByText("CANCELLED").waitFor();
    await expect(call(aliceCookie, "query", "run.get", { runId: queued.id }).then((r) => r.status)).resolves.toBe("CANCELLED");
    await page.screenshot({ path: screenshotPath("runs-list-cancelled"), fullPage: true });

    // Retry makes a new queued run with the same inputs and opens it; with no node online, the page says it waits.
    await row.getByRole("button", { name: `Retry run ${queued.id.slice(0, 10)}` }).click();
    await page.waitForURL((url) => /\/runs\/[^/]+$/.test(url.pathname) && !url.pathname.endsWith(queued.id));
    const retriedId = new URL(page.url()).pathname.split("/").pop()!;
    const retried = await call(aliceCookie, "query", "run.get", { runId: retriedId });
    expect([retried.status, retried.kind, retried.target, retried.suiteVersionId, retried.modelVersionId]).toEqual(["QUEUED", "EVAL", "NODE", v2, m1]);
    await page.getByTestId("no-node-online").waitFor();
    await expect(page.getByTestId("no-node-online").textContent()).resolves.toContain("No GPU node is online");
    await page.screenshot({ path: screenshotPath("run-queued-no-node"), fullPage: true });
    // And the run page cancels it too.
    await page.getByRole("button", { name: `Cancel run ${retriedId.slice(0, 10)}` }).click();
    await page.getByText("CANCELLED").first().waitFor();
    await expect(call(aliceCookie, "query", "run.get", { runId: retriedId }).then((r) => r.status)).resolves.toBe("CANCELLED");

    // The audit log folds the eval run's two metric batches into one entry that links to the run.
    await page.goto(`/orgs/${orgId}/audit?resourceType=Run`);
    const audit = page.getByTestId("audit-table");
    await audit.waitFor();
    const folded = audit.locator("tbody tr", { has: page.getByTestId("audit-group") });
    expect(await folded.count()).toBe(1);
    await expect(folded.getByTestId("audit-group").textContent()).resolves.toMatch(/^2 batches since .*: 2,300 of 2,300 stored$/);
    await expect(folded.getByRole("link", { name: "Run" }).getAttribute("href")).resolves.toBe(`${projectUrl}/runs/${runId}`);
    await expect(page.getByLabel("Resource").inputValue()).resolves.toBe("Run");
    await page.screenshot({ path: screenshotPath("audit-runs-folded"), fullPage: true });

    await page.goto(`${projectUrl}/runs/${training.id}`);
    const summary = page.getByTestId("run-summary-table");
    await summary.waitFor();
    const text = (await summary.textContent())!;
    expect(text).toContain("tokens.seen");
    expect(text).toContain("123,456");
    expect(text).toContain("0.4213");
    await context.close();
  });

  it("requests a promotion that the requester cannot approve and a second admin approves", async () => {
    const aliceContext = await contextFor(browser, aliceCookie);
    const page = await aliceContext.newPage();
    await page.goto(projectUrl);
    await page.getByTestId("project-nav").getByRole("link", { name: "Models" }).click();
    await page.getByRole("link", { name: "support-small" }).click();
    await page.getByTestId("lineage").waitFor();
    expect(await page.getByTestId("lineage").locator("g.node").count()).toBe(4);
    // Each version's latest score per suite, newest version first: v4 and v3 were never measured.
    const versionRows = page.getByTestId("model-versions").locator("tbody tr");
    await expect(page.getByTestId("model-versions").locator("thead").textContent()).resolves.toContain("Support answers");
    const scores = await versionRows.evaluateAll((rows) => rows.map((row) => row.querySelector("[data-testid=version-score]")?.textContent?.trim()));
    expect(scores).toEqual(["not run", "not run", "80.0%suite v2", "60.0%suite v2"]);

    const request = page.locator("section", { has: page.getByRole("heading", { name: "Request promotion" }) });
    await request.getByLabel("Candidate").selectOption({ label: "v2" });
    await request.getByLabel("Suite", { exact: true }).selectOption({ label: "Support answers" });
    await request.getByLabel("Suite version").selectOption({ label: "v2 · 5 cases" });
    await request.getByRole("button", { name: "Request promotion" }).click();
    await page.getByTestId("promotion-requested").waitFor();
    const promotions = page.getByTestId("promotions");
    await expect(promotions.getByTestId("promotion-status").textContent()).resolves.toBe("PENDING");

    // The requester is an admin too, but the server refuses their approval and the page says why.
    await promotions.getByRole("button", { name: "Approve" }).click();
    await page.getByText("You requested this promotion; a second admin must approve it.").waitFor();

    const gate = page.locator("section", { has: page.getByRole("heading", { name: "Gate check" }) });
    await gate.getByLabel("Candidate").selectOption({ label: "v2" });
    await gate.getByLabel("Suite", { exact: true }).selectOption({ label: "Support answers" });
    await gate.getByLabel("Suite version").selectOption({ label: "v2 · 5 cases" });
    await gate.getByRole("button", { name: "Check" }).click();
    await expect(page.getByTestId("gate-report").textContent()).resolves.toContain("gate passes");
    await aliceContext.close();

    const bobContext = await contextFor(browser, bobCookie);
    const bobPage = await bobContext.newPage();
    await bobPage.goto(`${projectUrl}/models/${modelId}`);
    await bobPage.getByTestId("promotions").getByRole("button", { name: "Approve" }).click();
    await bobPage.getByText("Approved: the alias now points at the candidate.").waitFor();
    await expect(bobPage.getByTestId("promotion-status").textContent()).resolves.toBe("APPROVED");
    await bobPage.getByText("production → v2").waitFor();
    await expect(bobPage.getByTestId("lineage").textContent()).resolves.toContain("production");
    await bobPage.getByTestId("lineage").scrollIntoViewIfNeeded();
    await bobPage.screenshot({ path: screenshotPath("records-model-lineage"), fullPage: true });
    await bobContext.close();
  });

  it("publishes a policy twice, the second time after editing it live, and shows what changed", async () => {
    const created = await call(aliceCookie, "mutation", "policy.create", {
      projectId,
      key: "refunds",
      title: "Refund policy",
      draft: "# 1. Refunds\nWithin 30 days.\n\n## 1.1 Exceptions\nSale items are final.",
    });
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(`${projectUrl}/policies`);
    await page.getByRole("link", { name: "Refund policy" }).click();
    await page.waitForURL(new RegExp(`/policies/${created.id}$`));
    await expect(page.getByTestId("clauses").textContent()).resolves.toContain("1.1 Exceptions");
    await publishPolicyWhenDraftShows(page, "Sale items are final.", "First version", 1);

    // Edits go through the live editor; the published draft catches up with it.
    const editor = page.getByTestId("policy-editor-content");
    await editor.click();
    await page.keyboard.press("Control+End");
    await page.keyboard.type("\nRefunds go back to the original card.");
    await publishPolicyWhenDraftShows(page, "Refunds go back to the original card.", "Say where refunds go", 2);

    await page.getByRole("link", { name: "Compare" }).click();
    await page.getByLabel("From").selectOption("1");
    await page.getByLabel("To").selectOption("2");
    await page.locator(".diff-added", { hasText: "Refunds go back to the original card." }).waitFor();
    await page.screenshot({ path: screenshotPath("records-policy-compare"), fullPage: true });
    await page.getByRole("link", { name: "Versions" }).click();
    await page.getByTestId("policy-versions").getByRole("link", { name: "v1" }).click();
    await page.locator(".markdown-text .md-heading", { hasText: "1.1 Exceptions" }).waitFor();
    await context.close();
  });

  it("keeps a case's link (made with the clause picker) to its clause while the heading is renamed, a clause is typed in before it and its section is moved; publishes the text as typed", async () => {
    const created = await call(aliceCookie, "mutation", "policy.create", {
      projectId,
      key: "returns",
      title: "Returns policy",
      draft: "# 1. Returns\nWithin 30 days.\n\n# 2. Shipping\nTwo days.",
    });
    // The clause's id comes from the document (the server names the headings it is asked about).
    const before = await call(aliceCookie, "query", "policy.get", { policyId: created.id });
    const returnsId = before.clauses.find((c: { title: string }) => c.title === "Returns").id as string;
    expect(returnsId).toMatch(/^c-[0-9a-f]{8}$/);
    expect(before.draft).toBe("# 1. Returns\nWithin 30 days.\n\n# 2. Shipping\nTwo days.");
    const suite = await call(aliceCookie, "mutation", "suite.create", { projectId, name: "Returns answers" });
    await call(aliceCookie, "mutation", "suite.setCases", {
      suiteId: suite.id,
      cases: [{ id: "return-window", input: "How long can I return?", expected: "30 days", graders: [{ type: "contains", values: ["30 days"] }], tags: [], clauses: [] }],
    });
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    // linked through the suite editor's clause picker
    await page.goto(`${projectUrl}/suites/${suite.id}`);
    await page.getByRole("button", { name: "Show editor" }).click();
    await page.getByRole("button", { name: "Edit return-window" }).click();
    await page.getByLabel("Search clauses").fill("returns");
    await page.getByRole("option").filter({ hasText: "1 Returns" }).getByRole("button").click();
    await expect
      .poll(async () => (await call(aliceCookie, "query", "suite.get", { suiteId: suite.id })).draft[0].clauses, { timeout: 15_000 })
      .toEqual([returnsId]);
    await call(aliceCookie, "mutation", "suite.publish", { suiteId: suite.id, message: "one case" });

    await page.goto(`${projectUrl}/policies/${created.id}`);
    const editor = page.getByTestId("policy-editor-content");
    await page.getByTestId("clauses").filter({ hasText: returnsId }).waitFor();
    const line = (n: number) => editor.locator(".cm-line").nth(n);
    // the editor holds the server's copy before anyone types into it (the panel shows the server's list sooner)
    await expect.poll(() => line(0).textContent(), { timeout: 30_000 }).toBe("# 1. Returns");
    // rename: the word after the number, typed over
    await line(0).click();
    await page.keyboard.press("End");
    for (let i = 0; i < "Returns".length; i++) await page.keyboard.press("Backspace");
    await page.keyboard.type("Returns and refunds");
    // a clause typed in before it
    await page.keyboard.press("Home");
    await page.keyboard.type("# 0. Scope\nEvery order.\n\n");
    await page.getByTestId("clauses").filter({ hasText: "Returns and refunds" }).waitFor();
    // its section moved below Shipping (CodeMirror's Alt+ArrowDown deletes the lines and inserts them again)
    await line(3).click();
    await page.keyboard.down("Shift");
    await page.keyboard.press("ArrowDown");
    await page.keyboard.up("Shift");
    for (let i = 0; i < 3; i++) await page.keyboard.press("Alt+ArrowDown");
    const typed = "# 0. Scope\nEvery order.\n\n\n# 2. Shipping\nTwo days.\n# 1. Returns and refunds\nWithin 30 days.";
    await expect.poll(async () => (await editor.locator(".cm-line").allTextContents()).join("\n"), { timeout: 15_000 }).toBe(typed);
    // the panel shows what the next version will publish, ids included, before publishing
    const clauses = page.getByTestId("clauses");
    await expect
      .poll(async () => (await clauses.locator("li").allTextContents()).map((t) => t.trim()), { timeout: 15_000 })
      .toEqual([expect.stringMatching(/^c-[0-9a-f]{8} 0 Scope$/), expect.stringMatching(/^c-[0-9a-f]{8} 2 Shipping$/), `${returnsId} 1 Returns and refunds`]);
    // the rendered view beside the editor reads as the text does, block by block
    await expect
      .poll(() => page.getByTestId("policy-rendered").locator(":scope > *").allTextContents(), { timeout: 15_000 })
      .toEqual(["0. Scope", "Every order.", "2. Shipping", "Two days.", "1. Returns and refunds", "Within 30 days."]);
    await page.screenshot({ path: screenshotPath("policy-clause-ids"), fullPage: true });
    await publishPolicyWhenDraftShows(page, "Every order.", "Scope first, returns last", 1);
    await context.close();

    const version = await call(aliceCookie, "query", "policy.version", { policyId: created.id, version: 1 });
    expect(version.content).toBe(typed);
    expect(version.clauses.find((c: { id: string }) => c.id === returnsId)).toMatchObject({ number: "1", title: "Returns and refunds" });
    // the coverage matrix still counts the case against the renamed, moved clause
    const dashboard = await call(aliceCookie, "query", "dashboard.project", { projectId, range: "all" });
    expect(dashboard.coverage.clauses.find((c: { clauseId: string }) => c.clauseId === returnsId)).toMatchObject({ cases: 1 });
  });
});

/** Opens the publish preview until the draft's diff shows `line` (live edits reach the draft within seconds), then publishes. */
async function publishPolicyWhenDraftShows(page: Page, line: string, message: string, version: number) {
  const deadline = Date.now() + 75_000;
  for (;;) {
    await page.getByRole("button", { name: "Review changes and publish" }).click();
    const added = page.locator(".diff-added", { hasText: line });
    const shown = await added.waitFor({ timeout: 3_000 }).then(() => true, () => false);
    if (shown) break;
    if (Date.now() > deadline) throw new Error(`The publish preview never showed "${line}"`);
    await page.getByRole("button", { name: "Cancel" }).click();
    await page.waitForTimeout(2_000);
  }
  await page.getByLabel("Message").fill(message);
  await page.getByRole("button", { name: `Publish version ${version}` }).click();
  await page.getByText(`Published version ${version}.`).waitFor();
}

async function importFile(page: Page, name: string, content: string, result: string) {
  await page.getByLabel("Format").selectOption("hearth-jsonl");
  await page.getByLabel("File or zip").setInputFiles({ name, mimeType: "application/jsonl", buffer: Buffer.from(content) });
  await page.getByRole("button", { name: "Preview import" }).click();
  await page.getByTestId("import-summary").waitFor();
  await page.getByRole("button", { name: /^Import \d+ cases?$/ }).click();
  await page.getByTestId("import-result").filter({ hasText: result }).waitFor();
}

async function publish(page: Page, message: string, version: number, cases: number) {
  await page.getByRole("button", { name: "Review changes and publish" }).click();
  await page.getByTestId(version === 1 ? "suite-diff" : "publish-result").waitFor();
  await page.getByLabel("Message").fill(message);
  await page.getByRole("button", { name: `Publish version ${version}` }).click();
  await expect(page.getByTestId("publish-result").textContent()).resolves.toContain(`version ${version} with ${cases} cases`);
}
