// Policy changes put cases up for review (#21 item 3): a new policy version that changes a clause's words
// or removes it flags exactly the cases of the project's suites (their working copies) that cite that
// clause, with the text before and after, and adds them to the project's "Policy changes" queue; a
// renumbered clause with the same words flags nothing; marking a case reviewed (or passing its queue
// item) clears its flag.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { flagCasesForPolicyVersion, POLICY_CHANGES_QUEUE } from "@/server/clause-review/service";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

const POLICY = (clause2: string, clause3: string | null) =>
  ["# Refunds", "", "## 1. Window", "Thirty days.", "", "## 2. Receipts", clause2, ...(clause3 === null ? [] : ["", "## 3. Exceptions", clause3])].join("\n");
const RECEIPTS = "A receipt is needed.";
const EXCEPTIONS = "Sale items are final.";

function testCase(id: string, clauses: string[]) {
  return { id, input: `Question for ${id}?`, expected: `Answer for ${id}`, graders: [{ type: "contains", values: ["answer"] }], tags: [], clauses };
}

describe.each(TEST_DATABASE_KINDS)("cases flagged for review by policy changes on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  const editor = () => callerFor(db, f.users.EDITOR);

  /** A fresh project: a policy with clauses 1..3 published as version 1, and a suite whose cases cite 1, 2, 2+3 and nothing. */
  async function project() {
    const e = editor();
    const { id: projectId } = await callerFor(db, f.users.ADMIN).project.create({ orgId: f.orgId, name: unique("project") });
    const key = unique("refunds");
    const policy = await e.policy.create({ projectId, key, title: "Refunds", draft: POLICY(RECEIPTS, EXCEPTIONS) });
    const { clauses } = await e.policy.get({ policyId: policy.id });
    const id = (title: string) => clauses.find((c) => c.title === title)!.id;
    const [c1, c2, c3] = [id("Window"), id("Receipts"), id("Exceptions")];
    const suite = await e.suite.create({ projectId, name: unique("suite") });
    await e.suite.setCases({ suiteId: suite.id, cases: [testCase("cites-1", [c1]), testCase("cites-2", [c2]), testCase("cites-2-3", [c2, c3]), testCase("cites-none", [])] });
    const first = await e.policy.publish({ policyId: policy.id, message: "v1" });
    expect(first.review).toEqual({ clauses: 0, cases: 0, queueId: null });
    return { projectId, key, policyId: policy.id, suiteId: suite.id, c1, c2, c3 };
  }

  const openFlags = (suiteId: string) => editor().caseReview.suite({ suiteId });

  it("a policy version that edits clause 2 marks exactly the cases linked to clause 2, with the text before and after", async () => {
    const p = await project();
    // a second suite cites clause 2 by the policy-qualified reference
    const other = await editor().suite.create({ projectId: p.projectId, name: unique("suite") });
    await editor().suite.setCases({ suiteId: other.id, cases: [testCase("qualified", [`${p.key}#${p.c2}`]), testCase("other-policy", ["c-elsewhere"])] });
    await editor().policy.update({ policyId: p.policyId, draft: POLICY("A receipt or a bank statement is needed.", EXCEPTIONS) });
    const v2 = await editor().policy.publish({ policyId: p.policyId, message: "bank statements" });
    expect(v2.review).toMatchObject({ clauses: 1, cases: 3 });

    const flags = await openFlags(p.suiteId);
    expect(flags.map((x) => x.caseId).sort()).toEqual(["cites-2", "cites-2-3"]);
    for (const flag of flags) {
      expect(flag).toMatchObject({ clauseId: p.c2, change: "CHANGED", policyVersion: 2, clauseNumber: "2", clauseTitle: "Receipts" });
      expect(flag.beforeText).toBe("## 2. Receipts\nA receipt is needed.");
      expect(flag.afterText).toBe("## 2. Receipts\nA receipt or a bank statement is needed.");
    }
    expect((await openFlags(other.id)).map((x) => x.caseId)).toEqual(["qualified"]);
    const listed = await editor().caseReview.project({ projectId: p.projectId });
    expect(listed.total).toBe(3);

    // the queue holds one item per flagged case, with the case and both texts of the clause
    const queue = await db.reviewQueue.findUniqueOrThrow({ where: { projectId_name: { projectId: p.projectId, name: POLICY_CHANGES_QUEUE } }, select: { id: true } });
    expect(v2.review.queueId).toBe(queue.id);
    const items = await db.reviewItem.findMany({ where: { queueId: queue.id }, select: { source: true, caseId: true, input: true, expected: true, clauses: true }, orderBy: { position: "asc" } });
    expect(items.map((i) => i.caseId).sort()).toEqual(["cites-2", "cites-2-3", "qualified"]);
    const item = items.find((i) => i.caseId === "cites-2")!;
    expect(item).toMatchObject({ source: "POLICY_CHANGE", input: "Question for cites-2?", expected: "Answer for cites-2" });
    expect(JSON.stringify(item.clauses)).toContain("A receipt is needed.");
    expect(JSON.stringify(item.clauses)).toContain("A receipt or a bank statement is needed.");

    // running the flagging again for the same version adds nothing
    const version = await db.policyVersion.findFirstOrThrow({ where: { policyId: p.policyId, version: 2 }, select: { id: true } });
    expect(await flagCasesForPolicyVersion(db, f.users.EDITOR, f.orgId, version.id)).toMatchObject({ cases: 0 });
    expect(await db.caseReviewFlag.count({ where: { projectId: p.projectId } })).toBe(3);
    expect(await db.reviewItem.count({ where: { queueId: queue.id } })).toBe(3);
  });

  it("marks the case linked to a removed clause 3 as REMOVED, and nothing else", async () => {
    const p = await project();
    await editor().policy.update({ policyId: p.policyId, draft: POLICY(RECEIPTS, null) });
    const v2 = await editor().policy.publish({ policyId: p.policyId, message: "no exceptions" });
    expect(v2.review).toMatchObject({ clauses: 1, cases: 1 });
    const flags = await openFlags(p.suiteId);
    expect(flags).toHaveLength(1);
    expect(flags[0]).toMatchObject({ caseId: "cites-2-3", clauseId: p.c3, change: "REMOVED", beforeText: "## 3. Exceptions\nSale items are final.", afterText: null });
  });

  it("marks nothing when clauses are renumbered, re-levelled or joined by a new clause with their words unchanged", async () => {
    const p = await project();
    const renumbered = ["# Refunds", "", "## 1.1 Window", "Thirty days.", "", "### 1.2 Receipts", "A  receipt is\nneeded.", "", "## 3 Exceptions", EXCEPTIONS, "", "## 4. Store credit", "Offered instead."].join("\n");
    await editor().policy.update({ policyId: p.policyId, draft: renumbered });
    const { clauses } = await editor().policy.get({ policyId: p.policyId });
    // the same clauses keep their ids under new numbers
    expect(clauses.find((c) => c.id === p.c2)).toMatchObject({ number: "1.2", title: "Receipts", level: 3 });
    const v2 = await editor().policy.publish({ policyId: p.policyId, message: "renumber" });
    expect(v2.review).toMatchObject({ clauses: 0, cases: 0 });
    expect(await db.caseReviewFlag.count({ where: { projectId: p.projectId } })).toBe(0);
  });

  it("keeps one open flag per case and clause: a later change brings it up to date and keeps the text the case was last seen with", async () => {
    const p = await project();
    await editor().policy.update({ policyId: p.policyId, draft: POLICY("Receipts: paper.", EXCEPTIONS) });
    await editor().policy.publish({ policyId: p.policyId, message: "v2" });
    await editor().policy.update({ policyId: p.policyId, draft: POLICY("Receipts: paper or email.", EXCEPTIONS) });
    const v3 = await editor().policy.publish({ policyId: p.policyId, message: "v3" });
    expect(v3.review).toMatchObject({ cases: 2 });
    const flags = await openFlags(p.suiteId);
    expect(flags.map((x) => [x.caseId, x.policyVersion])).toEqual([
      ["cites-2", 3],
      ["cites-2-3", 3],
    ]);
    expect(flags[0].beforeText).toBe("## 2. Receipts\nA receipt is needed.");
    expect(flags[0].afterText).toBe("## 2. Receipts\nReceipts: paper or email.");
    expect(await db.reviewItem.count({ where: { queue: { projectId: p.projectId } } })).toBe(2);
  });

  it("clears a flag when an EDITOR marks the case reviewed (audited, its unlabelled queue item removed), and refuses a VIEWER", async () => {
    const p = await project();
    await editor().policy.update({ policyId: p.policyId, draft: POLICY("A receipt or a bank statement is needed.", EXCEPTIONS) });
    await editor().policy.publish({ policyId: p.policyId, message: "v2" });
    const [flag] = await openFlags(p.suiteId);
    const refused = await callerFor(db, f.users.VIEWER).caseReview.resolve({ caseReviewFlagId: flag.id }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect((refused as TRPCError).code).toBe("FORBIDDEN");

    const resolved = await editor().caseReview.resolve({ caseReviewFlagId: flag.id });
    expect(resolved).toMatchObject({ id: flag.id, resolvedById: f.users.EDITOR.userId });
    expect((await openFlags(p.suiteId)).map((x) => x.caseId)).toEqual(["cites-2-3"]);
    expect(await db.reviewItem.count({ where: { id: flag.reviewItemId! } })).toBe(0);
    expect(await db.auditLog.count({ where: { action: "suite.caseReview.resolve", resourceId: p.suiteId } })).toBe(1);
    const again = await editor().caseReview.resolve({ caseReviewFlagId: flag.id }).catch((e: unknown) => e);
    expect((again as TRPCError).code).toBe("CONFLICT");
  });

  it("puts the cases of two policies published at once into one queue", async () => {
    const p = await project();
    const e = editor();
    const second = await e.policy.create({ projectId: p.projectId, key: unique("shipping"), title: "Shipping", draft: "# Shipping\n\n## 1. Speed\nTwo days." });
    const speed = (await e.policy.get({ policyId: second.id })).clauses.find((c) => c.title === "Speed")!.id;
    const other = await e.suite.create({ projectId: p.projectId, name: unique("suite") });
    await e.suite.setCases({ suiteId: other.id, cases: [testCase("cites-speed", [speed])] });
    await e.policy.publish({ policyId: second.id, message: "v1" });
    await e.policy.update({ policyId: p.policyId, draft: POLICY("Receipts: paper.", EXCEPTIONS) });
    await e.policy.update({ policyId: second.id, draft: "# Shipping\n\n## 1. Speed\nThree days." });
    const [a, b] = await Promise.all([e.policy.publish({ policyId: p.policyId, message: "v2" }), e.policy.publish({ policyId: second.id, message: "v2" })]);
    expect([a.review.cases, b.review.cases]).toEqual([2, 1]);
    expect(a.review.queueId).toBe(b.review.queueId);
    expect(await db.reviewItem.count({ where: { queueId: a.review.queueId! } })).toBe(3);
  });

  it("clears a flag when a reviewer passes its queue item, and keeps it when they fail it", async () => {
    const p = await project();
    await editor().policy.update({ policyId: p.policyId, draft: POLICY("A receipt or a bank statement is needed.", EXCEPTIONS) });
    const v2 = await editor().policy.publish({ policyId: p.policyId, message: "v2" });
    const reviewer = editor();
    const first = (await reviewer.review.next({ reviewQueueId: v2.review.queueId! })).item!;
    await reviewer.review.label({ reviewItemId: first.id, label: { pass: true } });
    const second = (await reviewer.review.next({ reviewQueueId: v2.review.queueId! })).item!;
    await reviewer.review.label({ reviewItemId: second.id, label: { pass: false, comment: "needs a new expected answer" } });
    expect((await openFlags(p.suiteId)).map((x) => x.caseId)).toEqual([second.caseId]);
  });
});
