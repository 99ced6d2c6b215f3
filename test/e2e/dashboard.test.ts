// The manager's dashboards in a browser: a project with a policy, a suite, three model versions with eval
// runs, a production version approved by a second admin and a candidate. The project dashboard and the
// organization overview show the numbers those runs imply; screenshots go to test-results/screenshots.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser } from "playwright-core";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

async function call(cookie: string, kind: "query" | "mutation", path: string, input: unknown) {
  const response = await trpcHttp(app.url, kind, path, input, { cookie });
  if (response.status !== 200) throw new Error(`${path} failed (${response.status}): ${JSON.stringify(response.body.error?.json?.message)}`);
  return response.body.result.data.json;
}

const contextFor = (browser: Browser, cookie: string) => signedInContext(browser, app.url, cookie);

const CASE_IDS = ["refund-1", "refund-2", "tone-1", "tone-2"];

async function recordEvalRun(cookie: string, projectId: string, suiteVersionId: string, modelVersionId: string, target: "NODE" | "BROWSER", passing: string[]) {
  const run = await call(cookie, "mutation", "run.create", { projectId, kind: "EVAL", target, suiteVersionId, modelVersionId });
  await call(cookie, "mutation", "run.transition", { runId: run.id, status: "RUNNING" });
  await call(cookie, "mutation", "run.recordResults", {
    runId: run.id,
    results: CASE_IDS.map((caseId) => {
      const pass = passing.includes(caseId);
      return { caseId, output: `output of ${caseId}`, grades: [{ grader: "contains", score: pass ? 1 : 0, pass, reason: "" }], score: pass ? 1 : 0, pass };
    }),
  });
  await call(cookie, "mutation", "run.transition", { runId: run.id, status: "SUCCEEDED" });
  return run.id as string;
}

describe("dashboards in a browser", () => {
  let browser: Browser;
  const alice = { name: "Alice Admin", email: `${unique("alice")}@example.test`, password: "alice-password-123" };
  const bob = { name: "Bob Second", email: `${unique("bob")}@example.test`, password: "bob-password-1234" };
  let aliceCookie = "";
  let orgId = "";
  let projectId = "";
  let dashboardUrl = "";

  beforeAll(async () => {
    browser = await launchBrowser();
    for (const person of [alice, bob]) await call("", "mutation", "user.signUp", person);
    aliceCookie = await signInOverHttp(app.url, alice.email, alice.password);
    const bobCookie = await signInOverHttp(app.url, bob.email, bob.password);
    orgId = (await call(aliceCookie, "mutation", "org.create", { name: `Dashco ${unique("o")}` })).id;
    projectId = (await call(aliceCookie, "mutation", "project.create", { orgId, name: "Support bot" })).id;
    const { token } = await call(aliceCookie, "mutation", "invite.create", { orgId, role: "ADMIN", email: bob.email });
    await call(bobCookie, "mutation", "invite.accept", { token });

    const policy = await call(aliceCookie, "mutation", "policy.create", { projectId, key: "support", title: "Support policy", draft: "# Support\n\n## 1 Refunds\nThirty days.\n\n## 2 Tone\nBe kind.\n\n## 3 Privacy\nNever share data." });
    const published = await call(aliceCookie, "mutation", "policy.publish", { policyId: policy.id, message: "first" });
    const clause = (title: string) => (published.clauses as { id: string; title: string }[]).find((c) => c.title === title)!.id;
    const cases = CASE_IDS.map((id) => {
      const refunds = id.startsWith("refund");
      return JSON.stringify({ id, input: `Question ${id}`, expected: "ok", graders: [{ type: "contains", values: ["ok"] }], tags: [refunds ? "refunds" : "tone"], clauses: [clause(refunds ? "Refunds" : "Tone")] });
    }).join("\n");
    const suite = await call(aliceCookie, "mutation", "suite.create", { projectId, name: "Support answers" });
    await call(aliceCookie, "mutation", "suite.importCases", { suiteId: suite.id, format: "hearth-jsonl", content: cases });
    const suiteVersion = await call(aliceCookie, "mutation", "suite.publish", { suiteId: suite.id, message: "four cases" });

    const model = await call(aliceCookie, "mutation", "model.create", { projectId, name: "support-small" });
    const versions = [];
    for (let i = 0; i < 3; i++) versions.push((await call(aliceCookie, "mutation", "model.createVersion", { modelId: model.id, config: { n_layer: 2 } })).id as string);
    await recordEvalRun(aliceCookie, projectId, suiteVersion.id, versions[0], "BROWSER", ["refund-1", "tone-1"]);
    await recordEvalRun(aliceCookie, projectId, suiteVersion.id, versions[1], "NODE", ["refund-1", "refund-2", "tone-1"]);
    await recordEvalRun(aliceCookie, projectId, suiteVersion.id, versions[2], "BROWSER", ["refund-1", "tone-1", "tone-2"]);
    const promotion = await call(aliceCookie, "mutation", "model.requestPromotion", { modelId: model.id, alias: "production", modelVersionId: versions[1], suiteVersionId: suiteVersion.id });
    await call(bobCookie, "mutation", "model.approvePromotion", { promotionId: promotion.id });
    await call(aliceCookie, "mutation", "model.setAlias", { modelId: model.id, alias: "candidate", modelVersionId: versions[2] });
    dashboardUrl = `/orgs/${orgId}/projects/${projectId}/dashboard`;
  });
  afterAll(async () => browser?.close());

  it("shows scores per version, pass rate by tag, coverage, regressions and run history", async () => {
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${orgId}/projects/${projectId}`);
    await page.getByTestId("project-nav").getByRole("link", { name: "Dashboard" }).click();
    await page.waitForURL(/\/dashboard/);
    await page.getByTestId("score-chart").locator("canvas").first().waitFor();

    const coverage = page.getByTestId("coverage");
    await expect(coverage.getByTestId("uncited-count").textContent()).resolves.toBe("2 clauses with no case.");
    // The policy's title heading is a clause too, and no case cites it or Privacy.
    const privacy = coverage.locator("tbody tr", { hasText: "Privacy" });
    await expect(privacy.textContent()).resolves.toContain("no case");
    const refunds = (await coverage.locator("tbody tr", { hasText: "Refunds" }).textContent())!;
    // v1 passed 1 of 2 refund cases, v2 (production) 2 of 2, v3 (candidate) 1 of 2.
    expect(refunds).toMatch(/50\.0%.*100\.0%.*50\.0%/);

    const regressions = page.getByTestId("regressions");
    await expect(regressions.getByTestId("regression-count").textContent()).resolves.toContain("1 case went from pass to fail");
    await expect(regressions.getByRole("link", { name: "refund-2" }).getAttribute("href")).resolves.toMatch(/\/runs\/[^/]+\?tab=results/);

    const runs = page.getByTestId("run-table");
    expect(await runs.locator("tbody tr").count()).toBe(3);
    await expect(runs.textContent()).resolves.toContain("node");

    const tags = page.getByTestId("tag-chart");
    await expect(tags.textContent()).resolves.toContain("v2");
    await page.screenshot({ path: screenshotPath("dashboard-project"), fullPage: true });

    await page.getByTestId("score-chart").getByRole("button", { name: "Show as table" }).click();
    const table = (await page.getByTestId("score-table").textContent())!;
    expect(table).toMatch(/1\s*50\.0%/);
    expect(table).toMatch(/2production75\.0%/);
    expect(table).toMatch(/3candidate75\.0%/);
    await tags.getByRole("button", { name: "Show as table" }).click();
    const tagTable = (await page.getByTestId("tag-table").textContent())!;
    expect(tagTable).toContain("refunds22100.0%");
    expect(tagTable).toContain("tone2150.0%");

    const download = page.waitForEvent("download");
    await page.getByTestId("csv-scores").click();
    expect((await download).suggestedFilename()).toBe("scores.csv");
    await context.close();
  });

  it("keeps filters in the address, so a shared link opens the same view", async () => {
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(`${dashboardUrl}?tag=tone`);
    await page.getByTestId("score-chart").getByRole("button", { name: "Show as table" }).click();
    const table = (await page.getByTestId("score-table").textContent())!;
    // On the tone cases only: v1 1 of 2, v2 1 of 2, v3 2 of 2.
    expect(table).toMatch(/2production50\.0%/);
    expect(table).toMatch(/3candidate100\.0%/);
    await expect(page.locator('select[name="tag"]').inputValue()).resolves.toBe("tone");
    await page.getByLabel("Time range").selectOption("7d");
    await page.waitForURL(/range=7d/);
    expect(page.url()).toContain("tag=tone");
    await context.close();
  });

  it("collapses a coverage matrix longer than a screenful, and labels durations in the unit it shows", async () => {
    const draft = ["# Handbook", ...Array.from({ length: 17 }, (_, i) => `## ${i + 1} Rule ${i + 1}\nText ${i + 1}.`)].join("\n\n");
    const handbook = await call(aliceCookie, "mutation", "policy.create", { projectId, key: "handbook", title: "Handbook", draft });
    await call(aliceCookie, "mutation", "policy.publish", { policyId: handbook.id, message: "first" });
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(dashboardUrl);
    const coverage = page.getByTestId("coverage-table");
    await coverage.waitFor();
    // 18 handbook clauses and the support policy's 4: the first 15 show until asked for all.
    expect(await coverage.locator("tbody tr").count()).toBe(15);
    const toggle = page.getByTestId("coverage-toggle");
    await expect(toggle.textContent()).resolves.toBe("Show all 22 clauses");
    await toggle.click();
    await expect.poll(() => coverage.locator("tbody tr").count()).toBe(22);
    await expect(toggle.textContent()).resolves.toBe("Show the first 15 clauses");

    // The table shows "1.2 s" under "Duration"; the CSV keeps milliseconds and says so.
    const runHeader = (await page.getByTestId("run-table").locator("thead").textContent())!;
    expect(runHeader).toContain("Duration");
    expect(runHeader).not.toContain("(ms)");
    const download = page.waitForEvent("download");
    await page.getByTestId("csv-compute").click();
    const csv = fs.readFileSync((await (await download).path())!, "utf8");
    expect(csv.split("\n")[0]).toContain("Total duration (ms)");
    await context.close();
  });

  it("opens the demo project, on first sign-in, with its policy, the suite citing it and the datasets", async () => {
    const demo = JSON.parse(fs.readFileSync(path.join(app.dataDir, "demo-sign-in.json"), "utf8")) as { email: string; password: string };
    const demoCookie = await signInOverHttp(app.url, demo.email, demo.password);
    const [demoOrg] = await call(demoCookie, "query", "org.list", {});
    const [demoProject] = await call(demoCookie, "query", "project.list", { orgId: demoOrg.id });
    const context = await contextFor(browser, demoCookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${demoOrg.id}/projects/${demoProject.id}`);
    await page.getByTestId("count-policies").filter({ hasText: /^1$/ }).waitFor();
    await page.getByTestId("count-suites").filter({ hasText: /^1$/ }).waitFor();
    await page.getByTestId("count-datasets").filter({ hasText: /^2$/ }).waitFor();
    await page.screenshot({ path: screenshotPath("demo-project"), fullPage: true });
    await page.getByTestId("project-nav").getByRole("link", { name: "Policies" }).click();
    await page.getByRole("link", { name: "Support policy" }).click();
    const clauses = page.getByTestId("clauses");
    await clauses.waitFor();
    expect(await clauses.locator("li").count()).toBe(6);
    await expect(clauses.textContent()).resolves.toContain("1.1 Sale items");
    await page.screenshot({ path: screenshotPath("demo-policy"), fullPage: true });

    // Three small models trained on the demo's pairs, each evaluated by the server on its CPU in the
    // background since the first start: the dashboard shows their measured, differing pass rates.
    const runs = async () => (await call(demoCookie, "query", "run.list", { projectId: demoProject.id })) as { status: string; kind: string }[];
    await expect.poll(async () => (await runs()).filter((r) => r.kind === "EVAL").map((r) => r.status), { timeout: 240_000, interval: 1_000 }).toEqual(["SUCCEEDED", "SUCCEEDED", "SUCCEEDED"]);
    await page.getByTestId("project-nav").getByRole("link", { name: "Dashboard" }).click();
    await page.waitForURL(/\/dashboard/);
    await page.getByTestId("score-chart").locator("canvas").first().waitFor();
    await page.screenshot({ path: screenshotPath("demo-dashboard"), fullPage: true });
    await page.getByTestId("score-chart").getByRole("button", { name: "Show as table" }).click();
    const rows = await page.getByTestId("score-table").locator("tbody tr").allTextContents();
    expect(rows).toHaveLength(3);
    const rates = rows.map((row) => Number(/(\d+\.\d)%/.exec(row)![1]));
    expect(rates.every((r) => r > 0)).toBe(true);
    expect(new Set(rates).size).toBe(3);

    // A person evaluates v1 again from the model's page, on the server: the run scores as at first start (3 of 12).
    await page.getByTestId("project-nav").getByRole("link", { name: "Models" }).click();
    await page.getByRole("link", { name: "support-assistant" }).click();
    await page.getByRole("button", { name: "Evaluate" }).last().click();
    await page.getByRole("heading", { name: "Evaluate v1" }).waitFor();
    const form = page.getByTestId("evaluate-form");
    await form.getByLabel("Suite", { exact: true }).selectOption({ index: 1 });
    await expect.poll(() => form.getByLabel("Suite version").inputValue()).not.toBe("");
    await form.getByLabel("Where to evaluate").selectOption("server");
    await form.getByLabel("Judge for rubric cases").waitFor();
    await form.getByRole("button", { name: "Run eval" }).click();
    await page.getByTestId("server-eval-started").getByRole("link", { name: "follow the run" }).click();
    await page.waitForURL(/\/runs\//);
    await expect.poll(() => page.getByTestId("run-summary").textContent(), { timeout: 120_000, interval: 1_000 }).toContain("3/12");
    await context.close();
  }, 360_000);

  it("shows the organization overview: production scores with the change, runs this week, gates and nodes", async () => {
    const context = await contextFor(browser, aliceCookie);
    const page = await context.newPage();
    await page.goto(`/orgs/${orgId}`);
    await page.getByRole("link", { name: "Dashboard" }).click();
    await page.waitForURL(/\/dashboard$/);
    const overview = page.getByTestId("production-table");
    await overview.waitFor();
    const text = (await overview.textContent())!;
    expect(text).toContain("support-small");
    expect(text).toContain("75.0%");
    // v2 against the version before it (no earlier production): 75% - 50%.
    expect(text).toContain("+25.0 pts");
    await expect(page.getByTestId("runs-this-week").textContent()).resolves.toContain("3");
    await expect(page.getByTestId("nodes-online").textContent()).resolves.toContain("none registered");
    await page.screenshot({ path: screenshotPath("dashboard-org"), fullPage: true });
    await context.close();
  });
});
