// The rules of organizations, invitations, members and API keys, on both databases.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { authenticateApiKey } from "@/server/apikeys/service";
import { sha256Hex } from "@/server/auth/tokens";
import { callerFor, createOrgFixture, unique } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

async function rejection(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "expected the call to be refused").toBeInstanceOf(TRPCError);
  return error as TRPCError;
}

describe.each(TEST_DATABASE_KINDS)("workspace rules on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
  });
  afterAll(async () => close?.());

  it("makes the creator of an organization its OWNER", async () => {
    const f = await createOrgFixture(db);
    const org = await callerFor(db, f.users.outsider).org.create({ name: "Initech" });
    const me = await callerFor(db, f.users.outsider).org.get({ orgId: org.id });
    expect(me.role).toBe("OWNER");
    expect(org.slug).toMatch(/^initech/);
  });

  it("keeps at least one OWNER and lets only an OWNER touch OWNER roles", async () => {
    const f = await createOrgFixture(db);
    const admin = callerFor(db, f.users.ADMIN);
    const owner = callerFor(db, f.users.OWNER);
    expect((await rejection(admin.member.updateRole({ orgId: f.orgId, membershipId: f.memberships.OWNER, role: "VIEWER" }))).code).toBe("FORBIDDEN");
    expect((await rejection(admin.member.updateRole({ orgId: f.orgId, membershipId: f.memberships.EDITOR, role: "OWNER" }))).code).toBe("FORBIDDEN");
    const last = await rejection(owner.member.updateRole({ orgId: f.orgId, membershipId: f.memberships.OWNER, role: "ADMIN" }));
    expect(last.message).toContain("at least one OWNER");
    await owner.member.updateRole({ orgId: f.orgId, membershipId: f.memberships.ADMIN, role: "OWNER" });
    await owner.member.updateRole({ orgId: f.orgId, membershipId: f.memberships.OWNER, role: "ADMIN" });
    expect(await db.membership.count({ where: { orgId: f.orgId, role: "OWNER" } })).toBe(1);
  });

  it("accepts an invitation once, with the invited role", async () => {
    const f = await createOrgFixture(db);
    const { token } = await callerFor(db, f.users.ADMIN).invite.create({ orgId: f.orgId, role: "EDITOR" });
    const stored = await db.invite.findFirstOrThrow({ where: { orgId: f.orgId, role: "EDITOR" } });
    expect(stored.tokenHash).toBe(sha256Hex(token));
    expect(JSON.stringify(stored)).not.toContain(token);

    const preview = await callerFor(db, null).invite.preview({ token });
    expect(preview).toMatchObject({ orgName: "Fixture Org", role: "EDITOR", state: "valid" });
    const joined = await callerFor(db, f.users.outsider).invite.accept({ token });
    expect(joined.role).toBe("EDITOR");
    const again = await rejection(callerFor(db, f.users.outsider).invite.accept({ token }));
    expect(again.message).toContain("already been used");
  });

  it("refuses expired, revoked and wrong-address invitations", async () => {
    const f = await createOrgFixture(db);
    const admin = callerFor(db, f.users.ADMIN);
    const forSomeoneElse = await admin.invite.create({ orgId: f.orgId, role: "VIEWER", email: "someone.else@example.test" });
    expect((await rejection(callerFor(db, f.users.outsider).invite.accept({ token: forSomeoneElse.token }))).message).toContain("someone.else@example.test");

    const expiring = await admin.invite.create({ orgId: f.orgId, role: "VIEWER" });
    await db.invite.update({ where: { id: expiring.invite.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await rejection(callerFor(db, f.users.outsider).invite.accept({ token: expiring.token }))).message).toContain("expired");

    const revoked = await admin.invite.create({ orgId: f.orgId, role: "VIEWER" });
    await admin.invite.revoke({ orgId: f.orgId, inviteId: revoked.invite.id });
    expect((await rejection(callerFor(db, f.users.outsider).invite.accept({ token: revoked.token }))).message).toContain("revoked");
    expect((await rejection(callerFor(db, null).invite.preview({ token: "x".repeat(43) }))).code).toBe("NOT_FOUND");
  });

  it("lets only an OWNER invite another OWNER", async () => {
    const f = await createOrgFixture(db);
    expect((await rejection(callerFor(db, f.users.ADMIN).invite.create({ orgId: f.orgId, role: "OWNER" }))).code).toBe("FORBIDDEN");
    await expect(callerFor(db, f.users.OWNER).invite.create({ orgId: f.orgId, role: "OWNER" })).resolves.toBeTruthy();
  });

  it("authenticates API keys by hash, records last use, and refuses revoked, expired and forged keys", async () => {
    const f = await createOrgFixture(db);
    const admin = callerFor(db, f.users.ADMIN);
    const { key, secret } = await admin.apiKey.create({ orgId: f.orgId, name: "ci", scopes: ["projects:read"] });
    const row = await db.apiKey.findUniqueOrThrow({ where: { id: key.id } });
    expect(row.secretHash).toBe(sha256Hex(secret));
    expect(secret.startsWith(`hth_${row.prefix}_`)).toBe(true);
    expect(JSON.stringify(await admin.apiKey.list({ orgId: f.orgId }))).not.toContain(secret);

    const actor = await authenticateApiKey(db, secret);
    expect(actor).toMatchObject({ type: "apiKey", orgId: f.orgId, scopes: ["projects:read"] });
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).lastUsedAt).not.toBeNull();
    expect(await authenticateApiKey(db, `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`)).toBeNull();
    expect(await authenticateApiKey(db, "hth_nothex_whatever")).toBeNull();

    await admin.apiKey.revoke({ orgId: f.orgId, keyId: key.id });
    expect(await authenticateApiKey(db, secret)).toBeNull();

    const expiring = await admin.apiKey.create({ orgId: f.orgId, name: "short", scopes: ["projects:read"], expiresInDays: 1 });
    await db.apiKey.update({ where: { id: expiring.key.id }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await authenticateApiKey(db, expiring.secret)).toBeNull();
  });

  it("records before and after in the audit log and filters it", async () => {
    const f = await createOrgFixture(db);
    const editor = callerFor(db, f.users.EDITOR);
    await editor.project.update({ projectId: f.projectId, name: "Renamed project" });
    const admin = callerFor(db, f.users.ADMIN);
    const { items } = await admin.audit.list({ orgId: f.orgId, action: "project.update" });
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ actorType: "USER", actorId: f.users.EDITOR.userId, actorLabel: f.users.EDITOR.email, resourceId: f.projectId });
    expect((items[0].before as { name: string }).name).toBe("Fixture Project");
    expect((items[0].after as { name: string }).name).toBe("Renamed project");

    const byActor = await admin.audit.list({ orgId: f.orgId, actor: f.users.OWNER.email.toUpperCase() });
    expect(byActor.items.every((entry) => entry.actorLabel === f.users.OWNER.email)).toBe(true);
    expect(byActor.items.map((entry) => entry.action)).toContain("apiKey.create");

    // Entries outlive what they describe.
    await callerFor(db, f.users.OWNER).project.delete({ projectId: f.projectId });
    const afterDelete = await admin.audit.list({ orgId: f.orgId, resourceType: "Project" });
    expect(afterDelete.items.map((entry) => entry.action)).toEqual(["project.delete", "project.update"]);
  });

  it("folds a run's consecutive metric batches into one audit entry that links to the run, and filters by any resource type", async () => {
    const f = await createOrgFixture(db);
    const editor = callerFor(db, f.users.EDITOR);
    for (let batch = 0; batch < 3; batch++) await editor.run.logMetrics({ runId: f.runId, points: [{ name: "loss", step: batch, value: 1 / (batch + 1) }, { name: "loss", step: 0, value: 1 }] });
    await editor.project.update({ projectId: f.projectId, description: "after the metrics" });
    const admin = callerFor(db, f.users.ADMIN);
    const { items } = await admin.audit.list({ orgId: f.orgId, limit: 2 });
    expect(items.map((i) => i.action)).toEqual(["project.update", "run.metrics"]);
    // Points 0, 1 and 2 were stored once each, whatever the retries sent again.
    expect(items[1].group).toMatchObject({ count: 3, received: 6, stored: 3 });
    expect(items[1].href).toBe(`/orgs/${f.orgId}/projects/${f.projectId}/runs/${f.runId}`);
    expect(items[0].href).toBe(`/orgs/${f.orgId}/projects/${f.projectId}`);
    const runs = await admin.audit.list({ orgId: f.orgId, resourceType: "Run" });
    expect(runs.items.map((i) => i.action)).toEqual(["run.metrics"]);
    expect(runs.nextCursor).toBeNull();
    // A type that is not one the log records is refused, not silently matched against nothing.
    await expect(admin.audit.list({ orgId: f.orgId, resourceType: "run" as never })).rejects.toThrow();
  });

  it("pages through the audit log with a cursor", async () => {
    const f = await createOrgFixture(db);
    const editor = callerFor(db, f.users.EDITOR);
    for (let i = 0; i < 5; i++) await editor.project.update({ projectId: f.projectId, description: `v${i}` });
    const admin = callerFor(db, f.users.ADMIN);
    const first = await admin.audit.list({ orgId: f.orgId, action: "project.update", limit: 3 });
    expect(first.items).toHaveLength(3);
    const second = await admin.audit.list({ orgId: f.orgId, action: "project.update", limit: 3, cursor: first.nextCursor! });
    expect(second.items).toHaveLength(2);
    expect(second.nextCursor).toBeNull();
    expect(new Set([...first.items, ...second.items].map((e) => e.id)).size).toBe(5);
  });

  it("refuses a second project of the same name in an organization, on create and on rename, and allows it in another", async () => {
    const f = await createOrgFixture(db);
    const admin = callerFor(db, f.users.ADMIN);
    const first = await admin.project.create({ orgId: f.orgId, name: "Support bot" });
    const duplicate = await rejection(admin.project.create({ orgId: f.orgId, name: "Support bot" }));
    expect([duplicate.code, duplicate.message]).toEqual(["CONFLICT", 'A project named "Support bot" already exists in this organization; choose another name.']);
    const renamed = await rejection(admin.project.update({ projectId: f.projectId, name: "Support bot" }));
    expect(renamed.code).toBe("CONFLICT");
    // Keeping its own name is not a conflict, and another organization may use the name.
    await expect(admin.project.update({ projectId: first.id, name: "Support bot", description: "same name" })).resolves.toMatchObject({ name: "Support bot" });
    const otherOrg = await callerFor(db, f.users.outsider).org.create({ name: unique("Elsewhere") });
    await expect(callerFor(db, f.users.outsider).project.create({ orgId: otherOrg.id, name: "Support bot" })).resolves.toMatchObject({ name: "Support bot" });
  });

  it("names the field in validation errors", async () => {
    const f = await createOrgFixture(db);
    const error = await rejection(callerFor(db, f.users.ADMIN).project.create({ orgId: f.orgId, name: "" }));
    expect(error.code).toBe("BAD_REQUEST");
    const email = await rejection(callerFor(db, null).user.signUp({ email: "not-an-email", name: "X", password: unique("pw-long-enough") }));
    expect(email.code).toBe("BAD_REQUEST");
  });
});
