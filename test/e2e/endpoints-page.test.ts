// The Endpoints page in a browser, on a Hearth started with the operator allowlisting one loopback
// service (an OpenAI-compatible stand-in): an ADMIN registers it (and is refused an internal address),
// checks it, and launches an eval that the server runs; the run page shows the per-case results with
// their latency. A VIEWER sees the endpoints but no way to change them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcHttp, trpcData } from "../support/http";
import { unique } from "../support/fixtures";
import { freePort } from "../support/postgres";
import { startUpstream, UPSTREAM_KEY } from "../support/openai-upstream";

const POLL = { timeout: 30_000 };

describe("the Endpoints page", () => {
  let app: AppProcess;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let browser: Browser;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-endpoints-"));
  const admin = { name: "Ada Admin", email: `${unique("ada")}@example.test`, password: "ada-password-1234" };
  const viewer = { name: "Vic Viewer", email: `${unique("vic")}@example.test`, password: "vic-password-1234" };
  let adminCookie = "";
  let viewerCookie = "";
  let pageUrl = "";

  const call = (cookie: string, kind: "query" | "mutation", procedure: string, input: unknown) => trpcData(app.url, kind, procedure, input, { cookie });

  beforeAll(async () => {
    upstream = await startUpstream();
    app = await startAppProcess({ port: await freePort(), dataDir, env: { HEARTH_SEED_DEMO: "0", HEARTH_ENDPOINT_ALLOWLIST: `127.0.0.1:${upstream.port}` } });
    browser = await launchBrowser();
    for (const person of [admin, viewer]) await call("", "mutation", "user.signUp", person);
    adminCookie = await signInOverHttp(app.url, admin.email, admin.password);
    viewerCookie = await signInOverHttp(app.url, viewer.email, viewer.password);
    const org = await call(adminCookie, "mutation", "org.create", { name: "Initech" });
    const project = await call(adminCookie, "mutation", "project.create", { orgId: org.id, name: "Support bot" });
    const { token } = await call(adminCookie, "mutation", "invite.create", { orgId: org.id, role: "VIEWER", email: viewer.email });
    await call(viewerCookie, "mutation", "invite.accept", { token });
    const suite = await call(adminCookie, "mutation", "suite.create", { projectId: project.id, name: "Refunds" });
    const cases = [
      { id: "refund-window", input: "Can I get a refund after 40 days?", graders: [{ type: "contains", values: ["30 days"] }], tags: ["refunds"], clauses: [] },
      { id: "refund-chat", input: [{ role: "user", content: "Refund after 40 days?" }], graders: [{ type: "contains", values: ["30 days"] }], tags: ["refunds"], clauses: [] },
      { id: "mars", input: "What is the capital of Mars?", graders: [{ type: "contains", values: ["Olympus"] }], tags: ["trivia"], clauses: [] },
    ];
    await call(adminCookie, "mutation", "suite.setCases", { suiteId: suite.id, cases });
    await call(adminCookie, "mutation", "suite.publish", { suiteId: suite.id, message: "first" });
    const slow = await call(adminCookie, "mutation", "suite.create", { projectId: project.id, name: "Slow" });
    await call(adminCookie, "mutation", "suite.setCases", { suiteId: slow.id, cases: [{ id: "stuck", input: "[hang] please wait", graders: [{ type: "contains", values: ["x"] }], tags: [], clauses: [] }] });
    await call(adminCookie, "mutation", "suite.publish", { suiteId: slow.id, message: "first" });
    pageUrl = `/orgs/${org.id}/projects/${project.id}/endpoints`;
  });

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (code !== 0) console.error(app.output());
    await upstream?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("registers, checks and evaluates an endpoint, with results and latency on the run page", async () => {
    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    await expect.poll(() => page.getByText("No endpoints yet. Register one below.").isVisible(), POLL).toBe(true);
    await expect.poll(() => page.getByText("No model version with a stored checkpoint yet").isVisible(), POLL).toBe(true);

    const form = page.getByTestId("endpoint-form");
    // An internal address is refused with the guard's reason.
    await form.getByLabel("Name").fill("internal");
    await form.getByLabel("Model").fill("m");
    await form.getByLabel("Base URL").fill("http://169.254.169.254/latest");
    await form.getByRole("button", { name: "Register endpoint" }).click();
    await expect.poll(() => page.getByRole("alert").filter({ hasText: "cloud metadata" }).isVisible(), POLL).toBe(true);

    await form.getByLabel("Name").fill("vendor-llm");
    await form.getByLabel("Model").fill("upstream-model");
    await form.getByLabel("Base URL").fill(upstream.baseUrl);
    await form.getByLabel("API key").fill(UPSTREAM_KEY);
    await form.getByLabel("At once").fill("2");
    await form.getByRole("button", { name: "Register endpoint" }).click();
    const table = page.getByTestId("endpoints");
    await expect.poll(() => table.textContent(), POLL).toContain("vendor-llm");
    expect(await table.textContent()).toContain("encrypted");
    expect(await page.content()).not.toContain(UPSTREAM_KEY);

    await table.getByRole("button", { name: "Check" }).click();
    await expect.poll(() => page.getByTestId("endpoint-check").textContent(), POLL).toContain("Serves upstream-model.");
    await page.screenshot({ path: screenshotPath("endpoints-page"), fullPage: true });

    const evaluate = page.getByTestId("evaluate-endpoint");
    await evaluate.getByLabel("Suite", { exact: true }).selectOption({ label: "Refunds" });
    await expect.poll(() => evaluate.getByLabel("Suite version").inputValue(), POLL).not.toBe("");
    await evaluate.getByRole("button", { name: "Run eval" }).click();
    await page.waitForURL(/\/runs\/[^/?]+$/);
    await expect.poll(() => page.getByTestId("run-summary").textContent(), { timeout: 60_000 }).toContain("2/3");
    // the run names what it measured, as a link
    expect(await page.getByTestId("run-inputs").textContent()).toContain("Endpoint measuredvendor-llm");
    expect(await page.getByTestId("run-inputs").getByRole("link", { name: "vendor-llm" }).count()).toBe(1);
    expect(await page.getByTestId("run-summary").textContent()).toContain("latency p50 / p95");
    await page.screenshot({ path: screenshotPath("endpoint-run-overview"), fullPage: true });
    await page.getByRole("link", { name: "Results" }).click();
    const results = page.getByTestId("results");
    await expect.poll(() => results.textContent(), POLL).toContain("No, refunds close after 30 days.");
    expect(await page.getByTestId("result-usage").count()).toBe(3);
    expect(await page.getByTestId("result-usage").first().textContent()).toMatch(/\d+ ms · \d+ tok/);
    await page.screenshot({ path: screenshotPath("endpoint-run-results"), fullPage: true });
    await context.close();
  });

  it("grades rubric cases with a judge endpoint, and shows the judge against people's labels on the Judges page", async () => {
    const projectId = pageUrl.split("/")[4];
    const [vendor] = await call(adminCookie, "query", "endpoint.list", { projectId });
    // Three questions the endpoint answers with the 30-day window, three it does not; a rubric grades each.
    const rubric = [{ type: "rubric", rubric: "The answer states the 30-day refund window." }];
    const questions = ["Refund after 40 days?", "Is a refund possible after 35 days?", "Refund for a late parcel?", "What is the capital of Mars?", "Who won the cup?", "How tall is the tower?"];
    const suite = await call(adminCookie, "mutation", "suite.create", { projectId, name: "Judged" });
    await call(adminCookie, "mutation", "suite.setCases", { suiteId: suite.id, cases: questions.map((input, i) => ({ id: `q${i + 1}`, input, graders: rubric, tags: [], clauses: [] })) });
    const { id: suiteVersionId } = await call(adminCookie, "mutation", "suite.publish", { suiteId: suite.id, message: "first" });

    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    const evaluate = page.getByTestId("evaluate-endpoint");
    await evaluate.getByLabel("Suite", { exact: true }).selectOption({ label: "Judged" });
    await expect.poll(() => evaluate.getByLabel("Suite version").inputValue(), POLL).toBe(suiteVersionId);
    await evaluate.getByLabel("Judge for rubric cases").selectOption({ label: "vendor-llm" });
    await evaluate.getByRole("button", { name: "Run eval" }).click();
    await page.waitForURL(/\/runs\/[^/?]+$/);
    const runId = page.url().split("/").at(-1)!;
    await expect.poll(() => page.getByTestId("run-summary").textContent(), { timeout: 60_000 }).toContain("3/6");

    // People label the outputs: they agree with the judge on five, and fail one it passed.
    const queue = await call(adminCookie, "mutation", "review.create", { projectId, name: "judge check", scoreSchema: { pass: true } });
    expect(await call(adminCookie, "mutation", "review.addResults", { reviewQueueId: queue.id, runId })).toEqual({ added: 6 });
    let overruled = false;
    for (let i = 0; i < 6; i++) {
      const { item } = await call(adminCookie, "mutation", "review.next", { reviewQueueId: queue.id });
      const judgePassed = item.output.includes("30 days");
      const pass = judgePassed && !overruled ? ((overruled = true), false) : judgePassed;
      await call(adminCookie, "mutation", "review.label", { reviewItemId: item.id, label: { pass } });
    }

    await page.goto(`${pageUrl.replace(/\/endpoints$/, "")}/review`);
    await page.getByRole("link", { name: "Judges" }).click();
    const judge = page.getByTestId("judge");
    await expect.poll(() => judge.textContent(), POLL).toContain("vendor-llm");
    // Six labels of the twenty the default bar asks for: uncalibrated, with the reason.
    expect(await judge.textContent()).toContain("uncalibrated");
    expect(await judge.textContent()).toContain("people labelled 6 of its verdicts; 20 are needed");
    // Judge against people: 3 passes of which people failed one; kappa (5/6 - 1/2) / (1/2) = 0.667.
    expect(await judge.getByLabel("both pass").textContent()).toBe("2");
    expect(await judge.getByLabel("judge passes what people fail").textContent()).toBe("1");
    expect(await judge.getByLabel("judge fails what people pass").textContent()).toBe("0");
    expect(await judge.getByLabel("both fail").textContent()).toBe("3");
    expect(await judge.textContent()).toContain("0.667");
    // The disagreement is one click away, the output shown as text.
    await judge.getByText("1 disagreement").click();
    const disagreement = judge.getByTestId("judge-disagreement");
    expect(await disagreement.textContent()).toContain("judge: pass");
    expect(await disagreement.textContent()).toContain("people: fail");
    expect(await disagreement.textContent()).toContain("No, refunds close after 30 days.");

    // The ADMIN lowers the bar to six labels and a kappa of 0.6: the judge is calibrated.
    await page.getByLabel("Minimum labels").fill("6");
    await page.getByLabel("Minimum kappa").fill("0.6");
    await page.getByRole("button", { name: "Save the bar" }).click();
    await expect.poll(() => judge.locator(".badge").textContent(), POLL).toBe("calibrated");
    await page.screenshot({ path: screenshotPath("judges-calibration"), fullPage: true });
    await context.close();
  });

  it("edits an endpoint, and cancels a run that waits on it", async () => {
    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    page.on("dialog", (dialog) => void dialog.accept());
    await page.goto(pageUrl);
    const table = page.getByTestId("endpoints");
    await table.getByRole("button", { name: "Edit" }).click();
    const form = table.getByTestId("endpoint-form");
    await form.getByLabel("At once").fill("3");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => table.textContent(), POLL).toContain("3 at once");
    expect(await table.textContent()).toContain("encrypted"); // an empty key field keeps the stored key

    const evaluate = page.getByTestId("evaluate-endpoint");
    await evaluate.getByLabel("Suite", { exact: true }).selectOption({ label: "Slow" });
    await expect.poll(() => evaluate.getByLabel("Suite version").inputValue(), POLL).not.toBe("");
    await evaluate.getByRole("button", { name: "Run eval" }).click();
    await page.waitForURL(/\/runs\/[^/?]+$/);
    await expect.poll(() => upstream.requests.some((r) => r.body.prompt === "[hang] please wait"), POLL).toBe(true);
    await page.getByRole("button", { name: "Cancel run" }).click();
    await expect.poll(() => page.getByText("CANCELLED").isVisible(), POLL).toBe(true);
    await expect.poll(() => upstream.closedEarly.includes("[hang] please wait"), POLL).toBe(true);
    await context.close();
  });

  it("creates a project key with the models:invoke scope on the API keys page, which calls /v1", async () => {
    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    await page.goto(pageUrl.replace(/\/projects\/.*$/, "/keys"));
    await page.getByLabel("Name").fill("support app");
    await page.getByTestId("api-key-project").selectOption({ label: "Only the project Support bot" });
    await page.getByRole("checkbox", { name: /Read projects/ }).uncheck();
    await page.getByRole("checkbox", { name: /models:invoke/ }).check();
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.getByTestId("api-key-secret").textContent())!.trim();
    await expect.poll(() => page.locator("table").textContent(), POLL).toContain("Support bot");
    await page.screenshot({ path: screenshotPath("api-keys-project-key"), fullPage: true });
    const models = await fetch(`${app.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    expect([models.status, await models.json()]).toEqual([200, { object: "list", data: [] }]);
    // The project key is limited to its project in the tRPC API as well.
    const orgWide = await trpcHttp(app.url, "query", "project.list", { orgId: pageUrl.split("/")[2] }, { authorization: `Bearer ${secret}` });
    expect(orgWide.status).toBe(403);
    await context.close();
  });

  it("shows a VIEWER the endpoints without the forms to change them", async () => {
    const context = await signedInContext(browser, app.url, viewerCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    await expect.poll(() => page.getByTestId("endpoints").textContent(), POLL).toContain("vendor-llm");
    expect(await page.getByTestId("endpoint-form").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Check" }).count()).toBe(0);
    expect(await page.getByTestId("evaluate-endpoint").count()).toBe(0);
    await context.close();
  });
});
