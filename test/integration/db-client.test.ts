// The Prisma client through @prisma/adapter-pg on both databases, and the app's shared client.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeDb, getDatabaseUrl, getDb, setDatabaseUrl } from "@/server/db/client";
import { openTestDatabase, TEST_DATABASE_KINDS, testDatabaseUrl, type TestDatabase } from "../support/databases";

const unique = (prefix: string) => `${prefix}-${randomBytes(5).toString("hex")}`;

describe.each(TEST_DATABASE_KINDS)("Prisma client on %s", (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await openTestDatabase(kind);
  });
  afterAll(async () => t?.close());

  it("creates, reads with relations, updates and deletes with cascades", async () => {
    const { db } = t;
    const slug = unique("org");
    const org = await db.organization.create({
      data: {
        name: "Acme",
        slug,
        memberships: { create: { role: "OWNER", user: { create: { email: `${unique("u")}@example.test`, name: "Ada" } } } },
        projects: { create: { name: "Evals", slug: "evals" } },
      },
    });
    const read = await db.organization.findUniqueOrThrow({
      where: { slug },
      select: { name: true, memberships: { select: { role: true, user: { select: { name: true } } } }, projects: { select: { slug: true, description: true } } },
    });
    expect(read).toEqual({ name: "Acme", memberships: [{ role: "OWNER", user: { name: "Ada" } }], projects: [{ slug: "evals", description: "" }] });

    await db.organization.update({ where: { id: org.id }, data: { name: "Acme Corp" } });
    expect((await db.organization.findUniqueOrThrow({ where: { id: org.id } })).name).toBe("Acme Corp");

    await db.organization.delete({ where: { id: org.id } });
    expect(await db.membership.count({ where: { orgId: org.id } })).toBe(0);
    expect(await db.project.count({ where: { orgId: org.id } })).toBe(0);
  });

  it("stores string arrays, JSON and enums", async () => {
    const { db } = t;
    const org = await db.organization.create({ data: { name: "Keys", slug: unique("keys") } });
    const key = await db.apiKey.create({
      data: { orgId: org.id, name: "ci", prefix: unique("p"), secretHash: "h", scopes: ["runs:write", "projects:read"], createdById: "someone" },
    });
    expect((await db.apiKey.findUniqueOrThrow({ where: { id: key.id } })).scopes).toEqual(["runs:write", "projects:read"]);
    expect(await db.apiKey.count({ where: { orgId: org.id, scopes: { has: "runs:write" } } })).toBe(1);

    const entry = await db.auditLog.create({
      data: {
        orgId: org.id,
        actorType: "API_KEY",
        actorId: key.id,
        actorLabel: "ci",
        action: "apikey.create",
        resourceType: "ApiKey",
        resourceId: key.id,
        after: { scopes: ["runs:write"], nested: { n: 1.5, ok: true, none: null } },
      },
    });
    const stored = await db.auditLog.findUniqueOrThrow({ where: { id: entry.id } });
    expect(stored.after).toEqual({ scopes: ["runs:write"], nested: { n: 1.5, ok: true, none: null } });
    expect(stored.actorType).toBe("API_KEY");
    await db.organization.delete({ where: { id: org.id } });
  });

  it("commits interactive transactions and rolls them back on error", async () => {
    const { db } = t;
    const key = unique("setting");
    await db.$transaction(async (tx) => {
      await tx.appSetting.create({ data: { key, value: "1" } });
      await tx.appSetting.update({ where: { key }, data: { value: "2" } });
    });
    expect((await db.appSetting.findUniqueOrThrow({ where: { key } })).value).toBe("2");

    await expect(
      db.$transaction(async (tx) => {
        await tx.appSetting.update({ where: { key }, data: { value: "3" } });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect((await db.appSetting.findUniqueOrThrow({ where: { key } })).value).toBe("2");
    await db.appSetting.delete({ where: { key } });
  });

  it("reports a unique violation as Prisma's P2002", async () => {
    const slug = unique("dup");
    await t.db.organization.create({ data: { name: "One", slug } });
    await expect(t.db.organization.create({ data: { name: "Two", slug } })).rejects.toMatchObject({ code: "P2002" });
    await t.db.organization.delete({ where: { slug } });
  });
});

describe("the app's shared client", () => {
  afterAll(async () => closeDb());

  it("is one instance per process, kept on globalThis, pointed at the URL given at start", async () => {
    const url = testDatabaseUrl("embedded");
    setDatabaseUrl(url);
    expect(getDatabaseUrl()).toBe(url);
    const db = getDb();
    expect(getDb()).toBe(db);
    expect(Object.getOwnPropertySymbols(globalThis).some((s) => s.description === "hearth.db")).toBe(true);
    expect(await db.$queryRaw`SELECT 1 AS one`).toEqual([{ one: 1 }]);
  });
});
