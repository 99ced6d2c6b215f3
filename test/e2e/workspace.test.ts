// What people do in the browser: sign up, create an organization and project, invite a colleague who
// joins with the right role, a VIEWER who cannot edit, and the audit log that recorded it all.
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, screenshotPath } from "../support/browser";
import { trpcHttp } from "../support/http";
import { unique } from "../support/fixtures";

const app = inject("app");

async function signUp(page: Page, name: string, email: string, password: string) {
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
}

describe("the workspace in a browser", () => {
  let browser: Browser;
  const alice = { name: "Alice Admin", email: `${unique("alice")}@example.test`, password: "alice-password-123" };
  const bob = { name: "Bob Viewer", email: `${unique("bob")}@example.test`, password: "bob-password-1234" };
  const orgName = `Globex ${unique("o")}`;
  let orgUrl = "";
  let inviteLink = "";

  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it("signs up, creates an organization and a project", async () => {
    const page = await browser.newPage({ baseURL: app.url });
    await page.goto("/");
    await page.waitForURL(/\/signin/);
    await page.getByRole("link", { name: "Create an account" }).click();
    await signUp(page, alice.name, alice.email, alice.password);
    await page.waitForURL(/\/orgs$/);
    await expect(page.getByTestId("signed-in-as").textContent()).resolves.toBe(alice.email);

    await page.getByLabel("Name").fill(orgName);
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/[^/]+$/);
    orgUrl = new URL(page.url()).pathname;
    await page.getByRole("heading", { name: orgName }).waitFor();

    await page.getByLabel("Name").fill("Refund bot");
    await page.getByLabel("Description").fill("Answers refund questions under policy R-4.");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/projects\//);
    await expect(page.getByTestId("project-name").textContent()).resolves.toBe("Refund bot");
    await page.screenshot({ path: screenshotPath("project-home"), fullPage: true });
    await page.close();
  });

  it("shows a clear message for invalid input, naming the field", async () => {
    const page = await browser.newPage({ baseURL: app.url });
    await page.goto("/signup");
    await signUp(page, "Short", `${unique("short")}@example.test`, "short");
    // The browser's own minLength check stops the form first; bypass it to see the server's message.
    await page.evaluate(() => document.querySelectorAll("input").forEach((i) => i.removeAttribute("minlength")));
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page.locator(".alert-error").textContent()).resolves.toContain("password: must be at least 10 characters");
    await page.close();
  });

  it("invites a second user who accepts and sees the project as a VIEWER", async () => {
    const page = await browser.newPage({ baseURL: app.url });
    await signIn(page, alice.email, alice.password, `${orgUrl}/members`);
    await page.getByLabel("Email").fill(bob.email);
    await page.getByLabel("Invitation role").selectOption("VIEWER");
    await page.getByRole("button", { name: "Create invitation link" }).click();
    inviteLink = (await page.getByTestId("invite-link").textContent())!;
    expect(inviteLink).toMatch(new RegExp(`^${app.url}/invite/[\\w-]{43}$`));
    await page.close();

    const bobContext = await browser.newContext({ baseURL: app.url });
    const bobPage = await bobContext.newPage();
    await bobPage.goto(inviteLink);
    await bobPage.getByText(`You are invited to join ${orgName}`).waitFor();
    await bobPage.getByRole("link", { name: "Create an account" }).click();
    await signUp(bobPage, bob.name, bob.email, bob.password);
    await bobPage.waitForURL(/\/invite\//);
    await bobPage.getByRole("button", { name: `Accept and join ${orgName}` }).click();
    await bobPage.waitForURL(new RegExp(`${orgUrl}$`));
    await bobPage.getByRole("link", { name: /Refund bot/ }).waitFor();
    await expect(bobPage.locator(".topbar .badge").textContent()).resolves.toBe("VIEWER");

    // A VIEWER reaches no editing action: no project form, no admin tabs, a read-only project.
    expect(await bobPage.getByRole("button", { name: "Create project" }).count()).toBe(0);
    expect(await bobPage.getByRole("link", { name: "API keys" }).count()).toBe(0);
    expect(await bobPage.getByRole("link", { name: "Audit log" }).count()).toBe(0);
    await bobPage.getByRole("link", { name: /Refund bot/ }).click();
    await bobPage.getByTestId("read-only-notice").waitFor();
    expect(await bobPage.getByRole("button", { name: "Edit project" }).count()).toBe(0);

    // And the server refuses the edit even when the page is bypassed.
    const projectId = bobPage.url().split("/projects/")[1];
    const cookie = (await bobContext.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const attempt = await trpcHttp(app.url, "mutation", "project.update", { projectId, name: "Hijacked" }, { cookie });
    expect(attempt.status).toBe(403);
    expect(attempt.body.error.json.message).toContain("EDITOR role");

    // The used link cannot be used again.
    await bobPage.goto(inviteLink);
    await bobPage.getByText("This invitation was accepted.").waitFor();
    await bobContext.close();
  });

  it("shows these events in the audit log to the admin", async () => {
    const page = await browser.newPage({ baseURL: app.url, viewport: { width: 1366, height: 900 } });
    await signIn(page, alice.email, alice.password, `${orgUrl}/audit`);
    const table = page.getByTestId("audit-table");
    await table.waitFor();
    const text = (await table.textContent())!;
    for (const action of ["org.create", "project.create", "invite.create", "invite.accept"]) expect(text).toContain(action);
    expect(text).toContain(bob.email);

    // New entries arrive over the live (server-sent events) feed without a reload.
    await page.getByText("● live").waitFor();
    const orgId = orgUrl.split("/").pop();
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const renamed = await trpcHttp(app.url, "mutation", "org.rename", { orgId, name: `${orgName} Ltd` }, { cookie });
    expect(renamed.status).toBe(200);
    await table.getByText("org.rename").waitFor();
    await page.screenshot({ path: screenshotPath("audit-log"), fullPage: true });

    await page.getByLabel("Action starts with").fill("invite.");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/action=invite\./);
    await page.waitForFunction(() => !document.querySelector("[data-testid=audit-table]")?.textContent?.includes("project.create"));
    const filtered = (await table.textContent())!;
    expect(filtered).toContain("invite.accept");
    expect(filtered).not.toContain("org.create");
    await page.close();
  });

  it("lets an API key with the right scope use the same API, until it is revoked", async () => {
    const page = await browser.newPage({ baseURL: app.url });
    await signIn(page, alice.email, alice.password, `${orgUrl}/keys`);
    await page.getByLabel("Name").fill("ci gate");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.getByTestId("api-key-secret").textContent())!;
    expect(secret).toMatch(/^hth_[0-9a-f]{12}_[\w-]{32}$/);
    const orgId = orgUrl.split("/").pop();
    const auth = { authorization: `Bearer ${secret}` };

    const list = await trpcHttp(app.url, "query", "project.list", { orgId }, auth);
    expect(list.status).toBe(200);
    expect(list.body.result.data.json.map((p: { name: string }) => p.name)).toEqual(["Refund bot"]);
    const denied = await trpcHttp(app.url, "query", "audit.list", { orgId }, auth);
    expect(denied.status).toBe(403);
    expect(denied.body.error.json.message).toContain('lacks the "audit:read" scope');

    await page.reload();
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Revoke" }).click();
    await page.getByText("revoked").waitFor();
    const afterRevoke = await trpcHttp(app.url, "query", "project.list", { orgId }, auth);
    expect(afterRevoke.status).toBe(401);
    await page.close();
  });
});

async function signIn(page: Page, email: string, password: string, then: string) {
  await page.goto(`/signin?callbackUrl=${encodeURIComponent(then)}`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.waitForURL((url) => url.pathname === then);
}
