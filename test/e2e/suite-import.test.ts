// The import dialog in a browser: a zipped promptfoo folder shows its summary (cases, graders mapped,
// fields not honoured, cases tagged for review) before anything is written, then imports on request,
// and the publish preview warns about the cases tagged needs-review.
import { zip } from "../support/zip";
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


const CONFIG = `
prompts: ["Customer asks: {{question}}"]
defaultTest:
  assert:
    - { type: not-icontains, value: "as an AI" }
tests:
  - description: Countries of the EU
    vars: { question: "Which countries border France?" }
    assert:
      - type: contains-any
        value: file://lists/countries.json
        transform: output.countries
  - description: Refund window
    vars: { question: "How long is the refund window?" }
    assert:
      - { type: icontains, value: "30 days", metric: accuracy }
      - { type: javascript, value: "globalThis.pwned = 1; return true" }
  - description: Polite greeting
    vars: { question: "Hello" }
    assert:
      - { type: contains-any, value: "Hello, Hi" }
      - { type: is-json, value: file://../../outside.json }
derivedMetrics:
  - { name: doubled, value: "accuracy * 2" }
`;

describe("the import dialog", () => {
  let browser: Browser;
  const person = { name: "Ines Importer", email: `${unique("ines")}@example.test`, password: "ines-password-123" };
  let cookie = "";
  let suiteUrl = "";
  let suiteId = "";

  beforeAll(async () => {
    browser = await launchBrowser();
    await call("", "mutation", "user.signUp", person);
    cookie = await signInOverHttp(app.url, person.email, person.password);
    const orgId = (await call(cookie, "mutation", "org.create", { name: `Importers ${unique("o")}` })).id;
    const projectId = (await call(cookie, "mutation", "project.create", { orgId, name: "Imports" })).id;
    suiteId = (await call(cookie, "mutation", "suite.create", { projectId, name: "From promptfoo" })).id;
    suiteUrl = `/orgs/${orgId}/projects/${projectId}/suites/${suiteId}`;
  });
  afterAll(async () => browser?.close());

  it("shows the summary of a zipped promptfoo folder before writing anything, then imports and warns at publish", async () => {
    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    await page.goto(suiteUrl);
    await page.getByLabel("Format").selectOption("promptfoo-yaml");
    const upload = zip({ "support-evals/promptfooconfig.yaml": CONFIG, "support-evals/lists/countries.json": '["Spain", "Italy"]' });
    await page.getByLabel("File or zip").setInputFiles({ name: "support-evals.zip", mimeType: "application/zip", buffer: upload });
    await page.getByRole("button", { name: "Preview import" }).click();

    const summary = page.getByTestId("import-summary");
    await summary.waitFor();
    await expect(summary.textContent()).resolves.toContain("3 cases would be added; nothing has been written yet.");
    await expect(summary.textContent()).resolves.toMatch(/Graders mapped: contains 5/);
    const review = await page.getByTestId("import-review").textContent();
    expect(review).toContain("3 cases will be tagged");
    const notes = page.getByTestId("import-notes");
    await expect(notes.textContent()).resolves.toContain("tests[0].assert[0].transform");
    await expect(notes.textContent()).resolves.toContain("derivedMetrics[0]");
    await expect(notes.textContent()).resolves.toContain("points outside the imported folder");
    // Nothing was written by the preview.
    expect((await call(cookie, "query", "suite.get", { suiteId })).draft).toHaveLength(0);
    await page.getByText("First 3 cases as they would be written").click();
    await expect(page.getByTestId("import-first-cases").textContent()).resolves.toContain("countries-of-the-eu");
    await page.screenshot({ path: screenshotPath("suite-import-summary"), fullPage: true });

    await page.getByRole("button", { name: "Import 3 cases" }).click();
    await page.getByTestId("import-result").filter({ hasText: "Imported 3 cases; the working copy now has 3. 3 tagged needs-review." }).waitFor();
    const draft = (await call(cookie, "query", "suite.get", { suiteId })).draft as { tags: string[] }[];
    expect(draft.every((c) => c.tags.includes("needs-review"))).toBe(true);

    await page.getByRole("button", { name: "Review changes and publish" }).click();
    await expect(page.getByTestId("publish-review-warning").textContent()).resolves.toMatch(/3 cases are tagged needs-review/);
    await context.close();
  });

  it("maps a CSV's columns in the dialog and previews the cases they make", async () => {
    const context = await signedInContext(browser, app.url, cookie);
    const page = await context.newPage();
    await page.goto(suiteUrl);
    await page.getByLabel("Format").selectOption("csv");
    const csv = 'Question,Answer,Case,Labels\n"Capital of Italy?",Rome,it-capital,geo\n"Capital of Spain?",Madrid,es-capital,geo\n';
    await page.getByLabel("File or zip").setInputFiles({ name: "capitals.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByTestId("csv-mapping").waitFor();
    await page.getByLabel("Input column").selectOption("Question");
    await page.getByLabel("Expected column").selectOption("Answer");
    await page.getByLabel("Id column").selectOption("Case");
    await page.getByLabel("Tags column").selectOption("Labels");
    await page.getByLabel("Grade with").selectOption("icontains");
    await page.getByRole("button", { name: "Preview import" }).click();
    const summary = page.getByTestId("import-summary");
    await summary.waitFor();
    await expect(summary.textContent()).resolves.toContain("2 cases would be added; nothing has been written yet.");
    await expect(summary.textContent()).resolves.toContain("Graders mapped: contains 2");
    await expect(page.getByTestId("import-notes").textContent()).resolves.toContain("icontains: the output contains the expected text");
    await page.screenshot({ path: screenshotPath("suite-import-csv-mapping"), fullPage: true });
    await page.getByRole("button", { name: "Import 2 cases" }).click();
    await page.getByTestId("import-result").filter({ hasText: "Imported 2 cases; the working copy now has 5." }).waitFor();
    const draft = (await call(cookie, "query", "suite.get", { suiteId })).draft as { id: string; expected?: string; tags: string[] }[];
    expect(draft.slice(3).map((c) => [c.id, c.expected, c.tags])).toEqual([["it-capital", "Rome", ["geo"]], ["es-capital", "Madrid", ["geo"]]]);
    await context.close();
  });
});
