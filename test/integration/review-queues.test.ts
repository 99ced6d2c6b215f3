// Review queues (#20): an ADMIN makes a queue and fills it from an eval run's results or by hand;
// reviewers take items under locks that expire by the database's clock; every label keeps who, when,
// the model version and the case, and is audited; progress and round-robin assignment are right.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { claimNextItem } from "@/server/review/service";
import { logServedRequest } from "@/server/serving/request-log";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { eventually } from "../support/collab";

const PASS_FAIL = { pass: true, numeric: null, categories: [], correction: true, comment: true };

async function rejection(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

/** A finished eval run of the fixture's model version over three cases, two failing, with tags and clauses. */
let suiteVersions = 100;
async function evalRunWithResults(db: PrismaClient, f: OrgFixture) {
  const cases = [
    { id: "refund-40", input: "Can I get a refund after 40 days?", expected: "No", graders: [{ type: "contains", values: ["no"] }], tags: ["refunds"], clauses: ["c-refund-window"] },
    { id: "refund-10", input: "Refund after 10 days?", expected: "Yes", graders: [{ type: "contains", values: ["yes"] }], tags: ["refunds"], clauses: ["c-refund-window"] },
    { id: "shipping", input: "Where is my parcel?", expected: "It ships in two days.", graders: [{ type: "equals" }], tags: ["shipping"], clauses: [] },
  ];
  const version = await db.suiteVersion.create({ data: { suiteId: f.suiteId, version: ++suiteVersions, cases, caseCount: 3, sha256: "7".repeat(64), message: "review", authorId: f.users.OWNER.userId }, select: { id: true } });
  const run = await db.run.create({
    data: { projectId: f.projectId, kind: "EVAL", target: "BROWSER", status: "SUCCEEDED", suiteVersionId: version.id, modelVersionId: f.modelVersionId, createdById: f.users.OWNER.userId },
    select: { id: true },
  });
  const grade = (grader: string, pass: boolean) => [{ grader, score: pass ? 1 : 0, pass, reason: "" }];
  await db.evalResult.createMany({
    data: [
      { runId: run.id, caseId: "refund-40", output: "Sure, refunds any time!", grades: grade("contains", false), score: 0, pass: false },
      { runId: run.id, caseId: "refund-10", output: "Yes.", grades: grade("contains", true), score: 1, pass: true },
      { runId: run.id, caseId: "shipping", output: "No idea.", grades: grade("equals", false), score: 0, pass: false },
    ],
  });
  return run.id;
}

describe.each(TEST_DATABASE_KINDS)("review queues on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  const admin = () => callerFor(db, f.users.ADMIN);
  const editor = () => callerFor(db, f.users.EDITOR);

  async function queueWith(settings: Record<string, unknown> = {}, items = 3) {
    const queue = await admin().review.create({ projectId: f.projectId, name: unique("queue"), scoreSchema: PASS_FAIL, ...settings });
    if (items) await admin().review.addItems({ reviewQueueId: queue.id, items: Array.from({ length: items }, (_, i) => ({ input: `question ${i + 1}`, output: `answer ${i + 1}` })) });
    return queue;
  }

  it("fills a queue from an eval run's failing results of one tag, with the case, expected output, model version and clause text", async () => {
    const runId = await evalRunWithResults(db, f);
    const queue = await queueWith({}, 0);
    expect(await admin().review.addResults({ reviewQueueId: queue.id, runId, pass: false, tag: "refunds" })).toEqual({ added: 1 });
    // Adding again adds nothing twice; a wider filter adds the rest.
    expect(await admin().review.addResults({ reviewQueueId: queue.id, runId, pass: false, tag: "refunds" })).toEqual({ added: 0 });
    expect(await admin().review.addResults({ reviewQueueId: queue.id, runId, grader: "equals" })).toEqual({ added: 1 });
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    expect(item).toMatchObject({ caseId: "refund-40", input: "Can I get a refund after 40 days?", output: "Sure, refunds any time!", expected: "No", modelVersionId: f.modelVersionId, source: "EVAL_RESULT" });
    expect(item!.clauses).toEqual([{ id: "c-refund-window", text: "## 4.2 Refund window {#c-refund-window}\nThirty days." }]);
  });

  it("shows a clause's text by the id the policy document gives it, from the published version and from the live draft", async () => {
    const editorCaller = editor();
    const policy = await editorCaller.policy.create({ projectId: f.projectId, key: unique("privacy"), title: "Privacy" });
    await editorCaller.policy.update({ policyId: policy.id, draft: "# Privacy\n\n## 1. Sharing\nNever share an address.\n\n## 2. Deletion\nDelete on request." });
    const { clauses } = await editorCaller.policy.get({ policyId: policy.id });
    const sharing = clauses.find((c) => c.title === "Sharing")!.id;
    const deletion = clauses.find((c) => c.title === "Deletion")!.id;
    await editorCaller.policy.publish({ policyId: policy.id, message: "v1" });
    // The draft moves on: a new clause only the live document has.
    await editorCaller.policy.update({ policyId: policy.id, draft: "# Privacy\n\n## 1. Sharing\nNever share an address.\n\n## 2. Deletion\nDelete on request.\n\n## 3. Export\nExport on request." });
    const exporting = (await editorCaller.policy.get({ policyId: policy.id })).clauses.find((c) => c.title === "Export")!.id;
    const queue = await queueWith({}, 0);
    await admin().review.addItems({ reviewQueueId: queue.id, items: [{ input: "q", output: "a", clauseIds: [deletion, exporting, "c-missing"] }] });
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    expect(item!.clauses).toEqual([
      { id: deletion, text: "## 2. Deletion\nDelete on request." },
      { id: exporting, text: "## 3. Export\nExport on request." },
      { id: "c-missing", text: "" },
    ]);
    expect(sharing).not.toBe(deletion);
  });

  it("refuses a label that does not fit the score schema, and a schema with nothing to score", async () => {
    const queue = await queueWith({ scoreSchema: { pass: false, numeric: { min: 1, max: 5, step: 1 }, categories: ["helpful", "harmful"], correction: false, comment: true } }, 1);
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    const bad = await rejection(editor().review.label({ reviewItemId: item!.id, label: { score: 6, category: "helpful" } }));
    expect(bad.message).toMatch(/score must be from 1 to 5/);
    expect((await rejection(editor().review.label({ reviewItemId: item!.id, label: { score: 3, category: "rude" } }))).message).toMatch(/"rude" is not one of helpful, harmful/);
    expect((await rejection(editor().review.label({ reviewItemId: item!.id, label: { score: 3, category: "helpful", pass: true } }))).message).toMatch(/does not score pass\/fail/);
    await editor().review.label({ reviewItemId: item!.id, label: { score: 3, category: "helpful" } });
    const empty = await rejection(admin().review.create({ projectId: f.projectId, name: unique("q"), scoreSchema: { pass: false } }));
    expect(empty.code).toBe("BAD_REQUEST");
  });

  it("locks an item to one reviewer: a second reviewer gets the next item and cannot label the locked one", async () => {
    const queue = await queueWith();
    const a = await editor().review.next({ reviewQueueId: queue.id });
    const b = await admin().review.next({ reviewQueueId: queue.id });
    expect(a.item!.position).toBe(1);
    expect(b.item!.position).toBe(2);
    // Asking again returns the item one already holds.
    expect((await editor().review.next({ reviewQueueId: queue.id })).item!.id).toBe(a.item!.id);
    expect((await rejection(admin().review.label({ reviewItemId: a.item!.id, label: { pass: true } }))).code).toBe("CONFLICT");
    await editor().review.label({ reviewItemId: a.item!.id, label: { pass: false, correctedOutput: "the right answer", comment: "wrong" } });
    const progress = await callerFor(db, f.users.VIEWER).review.get({ reviewQueueId: queue.id });
    expect(progress.progress).toEqual({ items: 3, done: 1 });
    expect(progress.reviewers.find((r) => r.userId === f.users.EDITOR.userId)).toMatchObject({ labelled: 1, remaining: 2 });
    // The editor's next is the third item: the second is still the admin's.
    const next = await editor().review.next({ reviewQueueId: queue.id });
    expect(next.item!.position).toBe(3);
    expect(next.progress).toEqual({ labelled: 1, remaining: 2 });
  });

  it("frees an item whose lock expired (by the database's clock) for the next reviewer; the first can no longer label it", async () => {
    const queue = await queueWith({}, 1);
    const held = await claimNextItem(db, f.users.EDITOR.userId, queue.id, { lockSeconds: 1 });
    expect(held).not.toBeNull();
    expect((await admin().review.next({ reviewQueueId: queue.id })).item).toBeNull();
    let taken: Awaited<ReturnType<typeof claimNextItem>> = null;
    await eventually(async () => (taken = await claimNextItem(db, f.users.ADMIN.userId, queue.id)) !== null, "the expired lock frees the item");
    expect(taken!.id).toBe(held!.id);
    expect((await rejection(editor().review.label({ reviewItemId: held!.id, label: { pass: true } }))).code).toBe("CONFLICT");
    await admin().review.label({ reviewItemId: held!.id, label: { pass: true } });
  });

  it("needs as many reviewers per item as the queue says, one label each, and lets a reviewer change their own label", async () => {
    const queue = await queueWith({ reviewersPerItem: 2 }, 1);
    const first = await editor().review.next({ reviewQueueId: queue.id });
    await editor().review.label({ reviewItemId: first.item!.id, label: { pass: true } });
    expect((await editor().review.next({ reviewQueueId: queue.id })).item).toBeNull();
    const second = await admin().review.next({ reviewQueueId: queue.id });
    expect(second.item!.id).toBe(first.item!.id);
    await admin().review.label({ reviewItemId: second.item!.id, label: { pass: false } });
    expect((await callerFor(db, f.users.OWNER).review.next({ reviewQueueId: queue.id })).item).toBeNull();
    expect((await admin().review.get({ reviewQueueId: queue.id })).progress).toEqual({ items: 1, done: 1 });
    // Going back: the editor sees their label and changes it.
    expect(await editor().review.mine({ reviewQueueId: queue.id })).toEqual([first.item!.id]);
    const back = await editor().review.item({ reviewItemId: first.item!.id });
    expect(back.myLabel).toMatchObject({ pass: true });
    await editor().review.label({ reviewItemId: first.item!.id, label: { pass: false } });
    expect((await editor().review.item({ reviewItemId: first.item!.id })).myLabel).toMatchObject({ pass: false });
    expect(await db.reviewLabel.count({ where: { itemId: first.item!.id } })).toBe(2);
  });

  it("stores each label with who, when, the model version and the case, and audits it", async () => {
    const runId = await evalRunWithResults(db, f);
    const queue = await queueWith({}, 0);
    await admin().review.addResults({ reviewQueueId: queue.id, runId, pass: false, tag: "refunds" });
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    const label = await editor().review.label({ reviewItemId: item!.id, label: { pass: false, correctedOutput: "No: refunds close after 30 days.", comment: "policy 4.2" } });
    const stored = await db.reviewLabel.findUniqueOrThrow({ where: { id: label.id } });
    expect(stored).toMatchObject({ reviewerId: f.users.EDITOR.userId, modelVersionId: f.modelVersionId, caseId: "refund-40", pass: false, correctedOutput: "No: refunds close after 30 days." });
    expect(stored.createdAt).toBeInstanceOf(Date);
    const audit = await db.auditLog.findFirstOrThrow({ where: { resourceType: "ReviewLabel", resourceId: label.id } });
    expect(audit).toMatchObject({ action: "review.label", actorId: f.users.EDITOR.userId, orgId: f.orgId });
    expect(audit.after).toMatchObject({ itemId: item!.id, caseId: "refund-40", modelVersionId: f.modelVersionId });
    // The audit log filters by the new resource type and links the label to its queue's agreement page.
    const listed = await admin().audit.list({ orgId: f.orgId, resourceType: "ReviewLabel" });
    expect(listed.items.find((e) => e.resourceId === label.id)?.href).toBe(`/orgs/${f.orgId}/projects/${f.projectId}/review/${queue.id}/agreement`);
  });

  it("assigns items round-robin to the named reviewers, and gives each reviewer only their own", async () => {
    const queue = await queueWith({ assignment: "ROUND_ROBIN", assigneeIds: [f.users.EDITOR.userId, f.users.ADMIN.userId] }, 4);
    const items = await db.reviewItem.findMany({ where: { queueId: queue.id }, orderBy: { position: "asc" }, select: { assigneeIds: true } });
    expect(items.map((i) => i.assigneeIds)).toEqual([[f.users.EDITOR.userId], [f.users.ADMIN.userId], [f.users.EDITOR.userId], [f.users.ADMIN.userId]]);
    const seen: number[] = [];
    for (;;) {
      const { item } = await editor().review.next({ reviewQueueId: queue.id });
      if (!item) break;
      seen.push(item.position);
      await editor().review.label({ reviewItemId: item.id, label: { pass: true } });
    }
    expect(seen).toEqual([1, 3]);
    // The OWNER is not named: nothing is theirs.
    expect((await callerFor(db, f.users.OWNER).review.next({ reviewQueueId: queue.id })).item).toBeNull();
    const refused = await rejection(admin().review.create({ projectId: f.projectId, name: unique("q"), scoreSchema: PASS_FAIL, assignment: "NAMED", assigneeIds: [f.users.VIEWER.userId] }));
    expect(refused.message).toMatch(/editors \(or above\)/);
  });

  it("changes only the settings an update names, and keeps the score schema once there are labels", async () => {
    const queue = await queueWith({ reviewersPerItem: 2, lockSeconds: 120 }, 1);
    const updated = await admin().review.update({ reviewQueueId: queue.id, description: "refunds only" });
    expect(updated).toMatchObject({ description: "refunds only", reviewersPerItem: 2, lockSeconds: 120, assignment: "ANYONE" });
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    await editor().review.label({ reviewItemId: item!.id, label: { pass: true } });
    const refused = await rejection(admin().review.update({ reviewQueueId: queue.id, scoreSchema: { pass: true, categories: ["a", "b"] } }));
    expect(refused.code).toBe("CONFLICT");
  });

  it("starts a case from an eval result with its case's input, expected output and graders, and the output that was graded", async () => {
    const result = await db.evalResult.findFirstOrThrow({ where: { runId: f.baseRunId }, select: { id: true } });
    const start = await editor().suite.caseSource({ suiteId: f.suiteId, source: { kind: "result", evalResultId: result.id } });
    expect(start).toEqual({
      input: "Can I get a refund after 40 days?",
      output: "No.",
      modelVersionId: null,
      from: { expected: "No", graders: [{ type: "contains", values: ["no"], mode: "any", caseInsensitive: true }], tags: ["refunds"], clauses: ["c-refund-window"] },
    });
    const other = await createOrgFixture(db);
    const foreign = await db.evalResult.findFirstOrThrow({ where: { runId: other.baseRunId }, select: { id: true } });
    expect((await rejection(editor().suite.caseSource({ suiteId: f.suiteId, source: { kind: "result", evalResultId: foreign.id } }))).code).toBe("NOT_FOUND");
  });

  it("samples served requests into a queue at its rate, only while the project keeps them", async () => {
    const queue = await queueWith({ servedSampleRate: 0.5 }, 0);
    const entry = { projectId: f.projectId, modelVersionId: f.modelVersionId, model: "p/m:v1", kind: "completion" as const, prompt: "hi", output: "hello", apiKeyId: null, promptTokens: 1, completionTokens: 1 };
    expect(await logServedRequest(db, entry, { random: () => 0 })).toBeNull();
    await admin().servedLog.configure({ projectId: f.projectId, enabled: true });
    const draws = [0.4, 0.6, 0.49];
    for (const draw of draws) await logServedRequest(db, { ...entry, output: `drew ${draw}` }, { random: () => draw });
    const items = await db.reviewItem.findMany({ where: { queueId: queue.id }, orderBy: { position: "asc" }, select: { output: true, source: true } });
    expect(items).toEqual([
      { output: "drew 0.4", source: "SERVED_REQUEST" },
      { output: "drew 0.49", source: "SERVED_REQUEST" },
    ]);
    await admin().servedLog.configure({ projectId: f.projectId, enabled: false });
  });

  it("lists queues with their progress for a VIEWER, and refuses the VIEWER a label", async () => {
    const queue = await queueWith({}, 2);
    const { item } = await editor().review.next({ reviewQueueId: queue.id });
    await editor().review.label({ reviewItemId: item!.id, label: { pass: true } });
    const viewer = callerFor(db, f.users.VIEWER);
    const listed = (await viewer.review.list({ projectId: f.projectId })).find((q) => q.id === queue.id);
    expect(listed!.progress).toEqual({ items: 2, done: 1, labels: 1 });
    expect((await rejection(viewer.review.next({ reviewQueueId: queue.id }))).code).toBe("FORBIDDEN");
  });
});
