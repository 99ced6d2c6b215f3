// Document history (collab.history, collab.suiteHistory): live sessions, publishes and API edits,
// each with the person who made it, newest first, on both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, TEST_DATABASE_KINDS, type TestDatabase } from "../support/databases";
import { callerFor, createOrgFixture, FIXTURE_CASE, type OrgFixture } from "../support/fixtures";
import { connectClient, eventually, sessionCookie, startCollabServer, type RunningCollabServer } from "../support/collab";
import { policyDocName, readLiveDocument } from "@/server/collab";

describe.each(TEST_DATABASE_KINDS)("document history on %s", (kind) => {
  let t: TestDatabase;
  let f: OrgFixture;
  let server: RunningCollabServer;

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    f = await createOrgFixture(t.db);
    server = await startCollabServer({ db: () => t.db });
  });
  afterAll(async () => {
    await server?.close();
    await t?.close();
  });

  it("lists a policy's API edit and publish with who made them, newest first", async () => {
    const editor = callerFor(t.db, f.users.EDITOR);
    await editor.policy.update({ policyId: f.policyId, draft: "# Refunds {#c-refunds}\n\n## Window {#c-window}\nForty days." });
    await callerFor(t.db, f.users.ADMIN).policy.publish({ policyId: f.policyId, message: "Forty-day window" });

    const history = await callerFor(t.db, f.users.VIEWER).collab.history({ policyId: f.policyId });

    expect(history.map((e) => e.kind)).toEqual(["publish", "edit", "publish"]);
    const [published, edited, first] = history;
    expect(published).toMatchObject({ kind: "publish", version: 2, message: "Forty-day window", who: { id: f.users.ADMIN.userId, name: "Admin", label: f.users.ADMIN.email } });
    expect(edited).toMatchObject({ kind: "edit", changed: ["draft"], who: { id: f.users.EDITOR.userId, name: "Editor", label: f.users.EDITOR.email } });
    // Version 1 of the fixture was written without an audit entry: the author still comes from the user.
    expect(first).toMatchObject({ kind: "publish", version: 1, who: { id: f.users.OWNER.userId, name: "Owner", label: f.users.OWNER.email } });
  });

  it("lists a live editing session with its editor and number of updates", async () => {
    const policy = await t.db.policy.create({
      data: { projectId: f.projectId, key: `live-${kind}`, title: "Live", draft: "", createdById: f.users.OWNER.userId },
      select: { id: true },
    });
    const client = connectClient(server.wsUrl, policyDocName(policy.id), { cookie: await sessionCookie(t.db, f.users.EDITOR.userId) });
    await client.synced();
    client.doc.getText("content").insert(0, "Typed live.");
    await eventually(async () => (await readLiveDocument(policyDocName(policy.id), t.db))?.text === "Typed live.", "the edit was stored");
    client.destroy();

    const viewer = callerFor(t.db, f.users.VIEWER);
    await eventually(async () => (await viewer.collab.history({ policyId: policy.id })).some((e) => e.kind === "session"), "the session was recorded");
    const [session] = await viewer.collab.history({ policyId: policy.id });
    expect(session).toMatchObject({ kind: "session", role: "EDITOR", who: { id: f.users.EDITOR.userId, name: "Editor" } });
    expect(session.kind === "session" && session.updates).toBeGreaterThanOrEqual(1);
  });

  it("lists a suite's case edit and publish with who made them", async () => {
    await callerFor(t.db, f.users.EDITOR).suite.setCases({ suiteId: f.suiteId, cases: [FIXTURE_CASE, { ...FIXTURE_CASE, id: "second" }] });
    await callerFor(t.db, f.users.OWNER).suite.publish({ suiteId: f.suiteId, message: "Second case" });

    const history = await callerFor(t.db, f.users.VIEWER).collab.suiteHistory({ suiteId: f.suiteId });

    expect(history[0]).toMatchObject({ kind: "publish", version: 2, message: "Second case", who: { id: f.users.OWNER.userId, name: "Owner" } });
    expect(history[1]).toMatchObject({ kind: "edit", changed: ["caseCount"], who: { id: f.users.EDITOR.userId, name: "Editor" } });
  });

  it("refuses someone outside the organization as if the policy did not exist", async () => {
    await expect(callerFor(t.db, f.users.outsider).collab.history({ policyId: f.policyId })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
