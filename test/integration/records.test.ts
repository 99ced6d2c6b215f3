// Policies, suites, runs, the release gate and promotions, through the API as their users call it, on both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { callerFor, createOrgFixture, FIXTURE_CASE, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

async function refused(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected the call to be refused").toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

const PROMPTFOO = `
prompts:
  - "Customer asks: {{question}}"
tests:
  - description: Refund after 40 days
    vars: { question: "Can I get a refund after 40 days?" }
    assert:
      - type: icontains
        value: "no"
      - type: javascript
        value: "output.length < 500"
  - description: Polite greeting
    vars: { question: "Hello" }
    assert:
      - type: contains-any
        value: ["Hello", "Hi"]
`;

const LM_EVAL = [
  { query: "Which refund window applies?", choices: ["30 days", "90 days"], gold: 0 },
  { question: "Is a receipt required?", choices: ["yes", "no"], answer: "A" },
]
  .map((line) => JSON.stringify(line))
  .join("\n");

describe.each(TEST_DATABASE_KINDS)("records on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  it("keeps clause ids stable across edits and publishes immutable policy versions with diffs", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const policy = await editor.policy.create({ projectId: f.projectId, key: unique("refunds"), title: "Refunds", draft: "# Refunds\n\n## 4.1 Window\nThirty days.\n\n## 4.2 Receipts\nRequired." });
    const typed = "# Refunds\n\n## 4.1 Window\nThirty days.\n\n## 4.2 Receipts\nRequired.";
    const v1 = await editor.policy.publish({ policyId: policy.id, message: "first" });
    // What was typed is what is published: the clause ids live in the co-edited document, not the text.
    expect((await editor.policy.version({ policyId: policy.id, version: 1 })).content).toBe(typed);
    expect((await editor.policy.get({ policyId: policy.id })).draft).toBe(typed);
    const clauses = v1.clauses as { id: string; number: string; title: string }[];
    expect(clauses.map((c) => [c.number, c.title])).toEqual([[null, "Refunds"], ["4.1", "Window"], ["4.2", "Receipts"]]);
    const receiptsId = clauses[2].id;
    expect(receiptsId).toMatch(/^c-[0-9a-f]{8}$/);

    // Renumber and reword: the clause keeps its id.
    const draft = (await editor.policy.get({ policyId: policy.id })).draft.replace("## 4.2 Receipts", "## 5.1 Proof of purchase");
    await editor.policy.update({ policyId: policy.id, draft });
    const v2 = await editor.policy.publish({ policyId: policy.id, message: "renumber" });
    expect((v2.clauses as { id: string; number: string }[]).find((c) => c.id === receiptsId)).toMatchObject({ number: "5.1", title: "Proof of purchase" });

    const diff = await editor.policy.diff({ policyId: policy.id, from: 1, to: 2 });
    expect(diff.filter((l) => l.kind === "removed").map((l) => l.text)).toEqual(["## 4.2 Receipts"]);
    expect(diff.filter((l) => l.kind === "added").map((l) => l.text)).toEqual(["## 5.1 Proof of purchase"]);
    expect((await refused(editor.policy.publish({ policyId: policy.id, message: "again" }))).message).toContain("Nothing changed since version 2");

    // No code path can change a published version: the database refuses it.
    await expect(db.policyVersion.update({ where: { id: v1.id }, data: { message: "rewritten" } })).rejects.toThrow(/immutable/);
    expect((await editor.policy.version({ policyId: policy.id, version: 1 })).message).toBe("first");
  });

  it("imports promptfoo and lm-eval files, publishes versions, and exports JSONL that round-trips exactly", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const suite = await editor.suite.create({ projectId: f.projectId, name: unique("support") });
    const fromPromptfoo = await editor.suite.importCases({ suiteId: suite.id, format: "promptfoo-yaml", content: PROMPTFOO });
    expect(fromPromptfoo.imported).toBe(2);
    expect(fromPromptfoo.warnings.join("\n")).toContain("javascript");
    expect(fromPromptfoo.summary.reviewCaseIds).toEqual(["refund-after-40-days"]);
    const v1 = await editor.suite.publish({ suiteId: suite.id, message: "from promptfoo" });
    expect(v1).toMatchObject({ version: 1, caseCount: 2, needsReview: ["refund-after-40-days"] });

    const fromLmEval = await editor.suite.importCases({ suiteId: suite.id, format: "lm-eval-jsonl", content: LM_EVAL });
    expect(fromLmEval.caseCount).toBe(4);
    const v2 = await editor.suite.publish({ suiteId: suite.id, message: "add multiple choice" });
    expect(v2).toMatchObject({ version: 2, caseCount: 4 });
    const changes = await editor.suite.diff({ suiteId: suite.id, from: 1, to: 2 });
    expect(changes.map((c) => c.change)).toEqual(["added", "added"]);

    const exported = await editor.suite.exportVersion({ suiteVersionId: v2.id });
    const copy = await editor.suite.create({ projectId: f.projectId, name: unique("copy") });
    await editor.suite.importCases({ suiteId: copy.id, format: "hearth-jsonl", content: exported.content });
    const copied = await editor.suite.publish({ suiteId: copy.id, message: "copy" });
    expect(copied.sha256).toBe(v2.sha256);
    const reexported = await editor.suite.exportVersion({ suiteVersionId: copied.id });
    expect(reexported.content).toBe(exported.content);

    // Leaving and coming back: promptfoo YAML and inspect JSONL give the same version again.
    for (const [exportFormat, importFormat] of [["promptfoo-yaml", "promptfoo-yaml"], ["inspect-jsonl", "inspect-jsonl"]] as const) {
      const file = await editor.suite.exportVersion({ suiteVersionId: v2.id, format: exportFormat });
      const again = await editor.suite.create({ projectId: f.projectId, name: unique(exportFormat) });
      const preview = await editor.suite.previewImport({ suiteId: again.id, format: importFormat, content: file.content, fileName: file.filename });
      expect(preview.summary.caseCount).toBe(4);
      expect((await editor.suite.get({ suiteId: again.id })).draft).toHaveLength(0); // a preview writes nothing
      await editor.suite.importCases({ suiteId: again.id, format: importFormat, content: file.content, fileName: file.filename });
      expect((await editor.suite.publish({ suiteId: again.id, message: "back" })).sha256).toBe(v2.sha256);
    }
  });

  it("refuses a broken import whole, naming the lines, and refuses to publish invalid cases", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const suite = await editor.suite.create({ projectId: f.projectId, name: unique("broken") });
    const bad = [JSON.stringify(FIXTURE_CASE), "{not json", JSON.stringify({ ...FIXTURE_CASE, id: "x", graders: "nope" })].join("\n");
    const error = await refused(editor.suite.importCases({ suiteId: suite.id, format: "hearth-jsonl", content: bad }));
    expect(error.message).toMatch(/line 2/);
    expect(error.message).toMatch(/line 3/);
    expect((await editor.suite.get({ suiteId: suite.id })).draft).toHaveLength(0);

    await editor.suite.setCases({ suiteId: suite.id, cases: [{ ...FIXTURE_CASE, graders: [{ type: "regex", pattern: "(a+)+$" }] }] });
    const shown = await editor.suite.get({ suiteId: suite.id });
    expect(shown.problems.length).toBeGreaterThan(0);
    expect((await refused(editor.suite.publish({ suiteId: suite.id, message: "v1" }))).message).toContain("cannot be published");
  });

  it("runs an eval: legal transitions only, idempotent metrics, results, summary by tag, and a compare view", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const run = await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "BROWSER", suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId });
    expect(run.status).toBe("QUEUED");
    expect((await refused(editor.run.transition({ runId: run.id, status: "SUCCEEDED" }))).message).toContain("A QUEUED run cannot become SUCCEEDED");
    expect((await refused(editor.run.logMetrics({ runId: run.id, points: [{ name: "loss", step: 0, value: 1 }] }))).message).toContain("only a RUNNING run");
    await editor.run.transition({ runId: run.id, status: "RUNNING" });

    const points = Array.from({ length: 50 }, (_, step) => ({ name: "loss", step, value: 3 - step / 50 }));
    expect(await editor.run.logMetrics({ runId: run.id, points })).toEqual({ received: 50, stored: 50 });
    expect(await editor.run.logMetrics({ runId: run.id, points })).toEqual({ received: 50, stored: 0 });
    const [loss] = await editor.run.metrics({ runId: run.id });
    expect(loss.name).toBe("loss");
    expect(loss.steps).toEqual(points.map((p) => p.step));
    expect(loss.values[49]).toBeCloseTo(3 - 49 / 50);

    expect((await refused(editor.run.recordResults({ runId: run.id, results: [{ caseId: "not-in-suite", output: "", grades: [], score: 0, pass: false }] }))).message).toContain("not-in-suite");
    await editor.run.recordResults({ runId: run.id, results: [{ caseId: FIXTURE_CASE.id, output: "Yes, always.", grades: [{ grader: "contains", score: 0, pass: false, reason: 'none of "no" found' }], score: 0, pass: false }] });
    const done = await editor.run.transition({ runId: run.id, status: "SUCCEEDED" });
    expect(done.summary).toMatchObject({ cases: 1, graded: 1, passed: 0, passRate: 0, byTag: { refunds: { cases: 1, passed: 0 } } });
    expect((await refused(editor.run.transition({ runId: run.id, status: "RUNNING" }))).message).toContain("SUCCEEDED run cannot become RUNNING");

    const failures = await editor.run.results({ runId: run.id, onlyFailures: true });
    expect(failures.items).toHaveLength(1);
    expect(failures.items[0]).toMatchObject({ caseId: FIXTURE_CASE.id, expected: "No", input: FIXTURE_CASE.input });
    const comparison = await editor.run.compare({ runId: run.id, baseRunId: f.baseRunId });
    expect(comparison.counts).toMatchObject({ regressed: 1, improved: 0, unchanged: 0 });
    expect(comparison.rows[0]).toMatchObject({ caseId: FIXTURE_CASE.id, change: "regressed" });
  });

  it("retries a cancelled node run as a new queued run with the same inputs, and refuses to retry one still going or one that ran in a browser", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const queued = await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId, config: { maxTokens: 12 } });
    const stillQueued = await refused(editor.run.retry({ runId: queued.id }));
    expect([stillQueued.code, stillQueued.message]).toEqual(["PRECONDITION_FAILED", "A QUEUED run cannot be retried; cancel it first, or wait until it ends."]);
    await editor.run.transition({ runId: queued.id, status: "CANCELLED" });
    const again = await editor.run.retry({ runId: queued.id });
    expect(again.id).not.toBe(queued.id);
    expect(again).toMatchObject({ status: "QUEUED", kind: "EVAL", target: "NODE", suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId, config: { maxTokens: 12 } });
    // The old run stays as it ended: runs are records.
    expect((await editor.run.get({ runId: queued.id })).status).toBe("CANCELLED");

    const inBrowser = await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "BROWSER", suiteVersionId: f.suiteVersionId, modelVersionId: f.modelVersionId });
    await editor.run.transition({ runId: inBrowser.id, status: "CANCELLED" });
    expect((await refused(editor.run.retry({ runId: inBrowser.id }))).message).toBe("A run in the browser is started again from the project's Train page.");
  });

  it("lists a suite's runs from the server, older ones past the project's newest 200 included, a page at a time", async () => {
    const editor = callerFor(db, f.users.EDITOR);
    const ownerId = f.users.OWNER.userId;
    const project = await db.project.create({ data: { orgId: f.orgId, name: "Busy project", slug: unique("busy") }, select: { id: true } });
    const suiteVersion = async () => {
      const suite = await db.evalSuite.create({ data: { projectId: project.id, name: unique("suite"), draft: [FIXTURE_CASE], createdById: ownerId }, select: { id: true } });
      const version = await db.suiteVersion.create({ data: { suiteId: suite.id, version: 1, cases: [FIXTURE_CASE], caseCount: 1, sha256: "2".repeat(64), message: "v1", authorId: ownerId }, select: { id: true } });
      return { suiteId: suite.id, suiteVersionId: version.id };
    };
    const quiet = await suiteVersion();
    const busy = await suiteVersion();
    const older = await db.run.create({
      data: { projectId: project.id, kind: "EVAL", target: "BROWSER", status: "SUCCEEDED", suiteVersionId: quiet.suiteVersionId, createdById: ownerId, createdAt: new Date(Date.now() - 86_400_000) },
      select: { id: true },
    });
    await db.run.createMany({
      data: Array.from({ length: 205 }, (_, i) => ({ projectId: project.id, kind: "EVAL" as const, target: "BROWSER" as const, suiteVersionId: busy.suiteVersionId, createdById: ownerId, createdAt: new Date(Date.now() - i * 1000) })),
    });

    // What the suite pages used to do: the project's newest 200 eval runs hold none of the quiet suite's.
    const newest = await editor.run.list({ projectId: project.id, kind: "EVAL", limit: 200 });
    expect(newest.map((r) => r.id)).not.toContain(older.id);
    // Asked for the suite (or its version), the server returns its older run.
    expect((await editor.run.list({ projectId: project.id, kind: "EVAL", suiteId: quiet.suiteId })).map((r) => r.id)).toEqual([older.id]);
    expect((await editor.run.list({ projectId: project.id, kind: "EVAL", suiteVersionId: quiet.suiteVersionId })).map((r) => r.id)).toEqual([older.id]);
    // Pages follow each other without gaps or repeats, down to the oldest run.
    const seen: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await editor.run.list({ projectId: project.id, kind: "EVAL", limit: 100, cursor });
      seen.push(...page.map((r) => r.id));
      if (page.length < 100) break;
      cursor = page[page.length - 1].id;
    }
    expect(seen).toHaveLength(206);
    expect(new Set(seen).size).toBe(206);
    expect(seen.at(-1)).toBe(older.id);
    const busyRuns = await editor.run.list({ projectId: project.id, kind: "EVAL", suiteId: busy.suiteId, limit: 200 });
    expect(busyRuns).toHaveLength(200);
    expect(await editor.run.list({ projectId: project.id, kind: "EVAL", suiteId: busy.suiteId, limit: 200, cursor: busyRuns[199].id })).toHaveLength(5);
  });

  it("gates a promotion and needs a second admin to approve it", async () => {
    const owner = callerFor(db, f.users.OWNER);
    const editor = callerFor(db, f.users.EDITOR);
    const admin = callerFor(db, f.users.ADMIN);
    const model = await editor.model.create({ projectId: f.projectId, name: unique("assistant") });
    const candidate = await editor.model.createVersion({ modelId: model.id, config: { preset: "tiny" } });

    async function evalRun(modelVersionId: string, pass: boolean) {
      const run = await editor.run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", suiteVersionId: f.suiteVersionId, modelVersionId });
      await editor.run.transition({ runId: run.id, status: "RUNNING" });
      await editor.run.recordResults({ runId: run.id, results: [{ caseId: FIXTURE_CASE.id, output: pass ? "No." : "Sure!", grades: [], score: pass ? 1 : 0, pass }] });
      await editor.run.transition({ runId: run.id, status: "SUCCEEDED" });
    }

    await expect(editor.model.setAlias({ modelId: model.id, alias: "production", modelVersionId: candidate.id })).rejects.toThrow(/protected/);
    await evalRun(candidate.id, false);
    // The fixture suite requires an overall pass rate of 50%.
    expect((await refused(editor.model.requestPromotion({ modelId: model.id, alias: "production", modelVersionId: candidate.id, suiteVersionId: f.suiteVersionId }))).message).toContain("The gate failed: overall 0.0% < 50.0%");

    const better = await editor.model.createVersion({ modelId: model.id, config: { preset: "tiny" }, parentVersionId: candidate.id });
    await evalRun(better.id, true);
    const report = await editor.model.gate({ modelId: model.id, candidateVersionId: better.id, suiteVersionId: f.suiteVersionId });
    expect(report.pass).toBe(true);
    const request = await editor.model.requestPromotion({ modelId: model.id, alias: "production", modelVersionId: better.id, suiteVersionId: f.suiteVersionId });

    // The requester cannot approve their own request, even as an admin.
    const ownRequest = await admin.model.requestPromotion({ modelId: model.id, alias: "staging", modelVersionId: better.id, suiteVersionId: f.suiteVersionId });
    expect((await refused(admin.model.approvePromotion({ promotionId: ownRequest.id }))).message).toContain("a second admin must approve");
    // An API key cannot approve at all, whatever its scopes.
    expect((await refused(callerFor(db, await f.key()).model.approvePromotion({ promotionId: request.id }))).code).toBe("FORBIDDEN");

    const approved = await owner.model.approvePromotion({ promotionId: request.id });
    expect(approved.alias).toMatchObject({ name: "production", modelVersionId: better.id, protected: true });
    const shown = await editor.model.get({ modelId: model.id });
    expect(shown.aliases.find((a) => a.name === "production")?.modelVersionId).toBe(better.id);
    expect(shown.versions.find((v) => v.id === better.id)?.parentId).toBe(candidate.id);
    expect((await refused(admin.model.approvePromotion({ promotionId: request.id }))).message).toContain("already approved");

    // A later candidate that regresses on a case the production version passes is reported.
    const worse = await editor.model.createVersion({ modelId: model.id, config: {}, parentVersionId: better.id });
    await evalRun(worse.id, false);
    const regression = await editor.model.gate({ modelId: model.id, candidateVersionId: worse.id, baseline: "production", suiteVersionId: f.suiteVersionId });
    expect(regression.pass).toBe(false);
    expect(regression.regressions).toEqual([{ caseId: FIXTURE_CASE.id, baselineScore: 1, candidateScore: 0 }]);
  });
});
