// The Schedules page and the notification bell in a browser, on a Hearth whose operator allowlists one
// loopback webhook receiver: an ADMIN is refused a private webhook address, makes a schedule of a
// suite version against a model alias and copies its secret (shown once), runs it now twice; the
// runs (GPU-node runs: the model version is no folder the server evaluates) report through the API as
// a node would, the second worse than the first; the server's drift watch alerts: the receiver gets
// one POST whose signature verifies with the secret, the bell counts the alert, and the notification
// leads to the run. A VIEWER sees the schedules but none of the controls.
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createHmac } from "node:crypto";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { launchBrowser, screenshotPath, signedInContext } from "../support/browser";
import { signInOverHttp, trpcData } from "../support/http";
import { unique } from "../support/fixtures";
import { freePort } from "../support/postgres";

const POLL = { timeout: 30_000 };
const CASES = ["refund-window", "refund-damaged"].map((id) => ({ id, input: `Question ${id}?`, graders: [{ type: "contains", values: ["yes"] }], tags: ["refunds"], clauses: [] }));

describe("the Schedules page", () => {
  let app: AppProcess;
  let browser: Browser;
  let receiver: http.Server;
  const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
  let receiverPort = 0;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-schedules-"));
  const admin = { name: "Ada Admin", email: `${unique("ada")}@example.test`, password: "ada-password-1234" };
  const viewer = { name: "Vic Viewer", email: `${unique("vic")}@example.test`, password: "vic-password-1234" };
  let adminCookie = "";
  let viewerCookie = "";
  let pageUrl = "";

  const call = (cookie: string, kind: "query" | "mutation", procedure: string, input: unknown) => trpcData(app.url, kind, procedure, input, { cookie });

  /** What a GPU node would report: the run starts, grades each case, and succeeds. */
  async function finishRun(runId: string, passing: string[]) {
    await call(adminCookie, "mutation", "run.transition", { runId, status: "RUNNING" });
    const results = CASES.map((c) => {
      const pass = passing.includes(c.id);
      return { caseId: c.id, output: pass ? "yes" : "no", grades: [{ grader: "contains", score: pass ? 1 : 0, pass, reason: "" }], score: pass ? 1 : 0, pass };
    });
    await call(adminCookie, "mutation", "run.recordResults", { runId, results });
    await call(adminCookie, "mutation", "run.transition", { runId, status: "SUCCEEDED" });
  }

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverPort = (receiver.address() as AddressInfo).port;
    app = await startAppProcess({ port: await freePort(), dataDir, env: { HEARTH_SEED_DEMO: "0", HEARTH_ENDPOINT_ALLOWLIST: `127.0.0.1:${receiverPort}` } });
    browser = await launchBrowser();
    for (const person of [admin, viewer]) await call("", "mutation", "user.signUp", person);
    adminCookie = await signInOverHttp(app.url, admin.email, admin.password);
    viewerCookie = await signInOverHttp(app.url, viewer.email, viewer.password);
    const org = await call(adminCookie, "mutation", "org.create", { name: "Initech" });
    const project = await call(adminCookie, "mutation", "project.create", { orgId: org.id, name: "Support bot" });
    const { token } = await call(adminCookie, "mutation", "invite.create", { orgId: org.id, role: "VIEWER", email: viewer.email });
    await call(viewerCookie, "mutation", "invite.accept", { token });
    const suite = await call(adminCookie, "mutation", "suite.create", { projectId: project.id, name: "Refunds" });
    await call(adminCookie, "mutation", "suite.setCases", { suiteId: suite.id, cases: CASES });
    await call(adminCookie, "mutation", "suite.publish", { suiteId: suite.id, message: "first" });
    const model = await call(adminCookie, "mutation", "model.create", { projectId: project.id, name: "support-assistant" });
    const version = await call(adminCookie, "mutation", "model.createVersion", { modelId: model.id, config: { preset: "tiny" } });
    await call(adminCookie, "mutation", "model.setAlias", { modelId: model.id, alias: "nightly", modelVersionId: version.id });
    pageUrl = `/orgs/${org.id}/projects/${project.id}/schedules`;
  });

  afterAll(async () => {
    await browser?.close();
    const code = await app?.stop();
    if (code !== 0) console.error(app.output());
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("makes a schedule, runs it, and alerts with a signed webhook and a notification when the pass rate drops", async () => {
    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    await expect.poll(() => page.getByText("No schedules yet. Make one below.").isVisible(), POLL).toBe(true);

    const form = page.getByTestId("schedule-form");
    await expect.poll(() => form.getByRole("checkbox", { name: /Refunds v1/ }).isVisible(), POLL).toBe(true);
    await form.getByLabel("Name").fill("nightly watch");
    await form.getByRole("checkbox", { name: /Refunds v1/ }).check();
    await form.getByLabel("Alias", { exact: true }).fill("nightly");
    await form.getByLabel("Alert margin (points)").fill("10");
    // A private address is refused with the guard's reason.
    await form.getByLabel("Webhook URL").fill("http://10.0.0.9/hook");
    await form.getByRole("button", { name: "Make schedule" }).click();
    await expect.poll(() => page.getByRole("alert").filter({ hasText: "private" }).isVisible(), POLL).toBe(true);

    await form.getByLabel("Webhook URL").fill(`http://127.0.0.1:${receiverPort}/hooks/hearth`);
    await form.getByRole("button", { name: "Make schedule" }).click();
    await expect.poll(() => page.getByTestId("webhook-secret").isVisible(), POLL).toBe(true);
    const secret = (await page.getByTestId("webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    const table = page.getByTestId("schedules");
    await expect.poll(() => table.textContent(), POLL).toContain("nightly watch");
    expect(await table.textContent()).toContain("every day at 06:00 UTC");
    expect(await table.textContent()).toContain("support-assistant @ nightly");

    await table.getByRole("button", { name: "Run now" }).click();
    await expect.poll(() => table.getByTestId("firing-run").count(), POLL).toBe(1);
    const list = async () => (await call(adminCookie, "query", "schedule.list", { projectId: pageUrl.split("/")[4] }))[0];
    const first = (await list()).lastFiring.runs[0].runId;
    await finishRun(first, ["refund-window", "refund-damaged"]);
    // The first run is only a baseline; the next falls from 100% to 50%.
    await expect.poll(async () => (await list()).lastFiring.runs[0].score, { timeout: 60_000 }).toBe(100);
    await page.reload();
    await table.getByRole("button", { name: "Run now" }).click();
    await expect.poll(async () => (await list()).lastFiring.runs[0].runId, POLL).not.toBe(first);
    await finishRun((await list()).lastFiring.runs[0].runId, ["refund-window"]);

    await expect.poll(() => received.length, { timeout: 60_000 }).toBe(1);
    const [request] = received;
    const timestamp = String(request.headers["x-hearth-timestamp"]);
    expect(request.headers["x-hearth-signature"]).toBe(`sha256=${createHmac("sha256", secret).update(`${timestamp}.${request.body}`).digest("hex")}`);
    expect(JSON.parse(request.body)).toMatchObject({ reason: "drop", score: 50, previousScore: 100, regressedCases: ["refund-damaged"] });

    // No reload: the alert reaches the open page through its live feed (the bell's own refresh is 2 minutes).
    await expect.poll(() => page.getByTestId("notification-unread").textContent(), POLL).toBe("1");
    await page.reload();
    await expect.poll(() => table.textContent(), POLL).toContain("alert · 1 regressed");
    await table.getByRole("button", { name: "▸" }).click();
    await expect.poll(() => page.getByTestId("webhook-deliveries").textContent(), POLL).toContain("DELIVERED");
    await page.screenshot({ path: screenshotPath("schedules-page"), fullPage: true });

    await page.getByTestId("notification-bell").click();
    await page.waitForURL(/\/notifications$/);
    const notice = page.getByTestId("notification").first();
    await expect.poll(() => notice.textContent(), POLL).toContain("nightly watch: pass rate fell 50.0 points");
    await page.screenshot({ path: screenshotPath("notifications-page"), fullPage: true });
    await notice.getByRole("button", { name: "Open the run" }).click();
    await page.waitForURL(/\/runs\/[^/?]+$/);
    await expect.poll(() => page.getByTestId("notification-bell").getAttribute("aria-label"), POLL).toBe("Notifications: 0 unread");
    await context.close();
  });

  it("edits a schedule's timetable and margin, keeping its webhook secret", async () => {
    const context = await signedInContext(browser, app.url, adminCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    const table = page.getByTestId("schedules");
    await expect.poll(() => table.textContent(), POLL).toContain("nightly watch");
    await table.getByRole("button", { name: "Edit" }).click();
    const form = page.getByTestId("schedule-edit-form");
    expect(await form.getByLabel("Name").inputValue()).toBe("nightly watch");
    expect(await form.getByRole("checkbox", { name: /Refunds v1/ }).isChecked()).toBe(true);
    await form.getByLabel("Interval").selectOption("HOURLY");
    await form.getByLabel("Minute past the hour").fill("15");
    await form.getByLabel("Alert margin (points)").fill("60");
    await form.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => table.textContent(), POLL).toContain("every hour at :15");
    expect(await table.textContent()).toContain("drop > 60 points");
    expect(await page.getByTestId("webhook-secret").count()).toBe(0); // kept, so not shown
    await context.close();
  });

  it("shows a VIEWER the schedules without the controls, and their own copy of the alert", async () => {
    const context = await signedInContext(browser, app.url, viewerCookie);
    const page = await context.newPage();
    await page.goto(pageUrl);
    await expect.poll(() => page.getByTestId("schedules").textContent(), POLL).toContain("nightly watch");
    expect(await page.getByTestId("schedule-form").count()).toBe(0);
    expect(await page.getByRole("button", { name: "Run now" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: "Pause" }).count()).toBe(0);
    // The ADMIN read theirs; the VIEWER's own is still unread.
    await expect.poll(() => page.getByTestId("notification-unread").textContent(), POLL).toBe("1");
    await context.close();
  });
});
