// Server-side sessions: the probe's cookie kept working for 7 days after sign-out. Now each sign-in
// stores a session whose id the cookie carries, every cookie authentication looks it up, and ending
// it (sign-out, "sign out everywhere", a password change, an ADMIN) signs that browser out at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode, type JWT } from "next-auth/jwt";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { buildAuthOptions } from "@/server/auth/options";
import { hashPassword } from "@/server/auth/password";
import { resolveActor } from "@/server/auth/resolve-actor";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

process.env.NEXTAUTH_SECRET ??= "sessions-test-secret";

describe.each(TEST_DATABASE_KINDS)("server-side sessions on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  const options = () => buildAuthOptions();

  beforeAll(async () => {
    const opened = await openTestDatabase(kind);
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  /** Signs in as next-auth does (the jwt callback with the user), and returns the cookie and token. */
  async function signIn(userId: string): Promise<{ cookie: string; token: JWT }> {
    const token = (await options().callbacks!.jwt!({ token: { sub: userId }, user: { id: userId } as never, account: { provider: "credentials", type: "credentials", providerAccountId: userId } })) as JWT;
    return { token, cookie: `next-auth.session-token=${await encode({ token, secret: process.env.NEXTAUTH_SECRET! })}` };
  }
  const whoIs = async (cookie: string) => {
    const actor = await resolveActor(db, new Headers({ cookie }));
    return actor?.type === "user" ? actor.userId : null;
  };
  async function person(password?: string) {
    const user = await db.user.create({ data: { email: `${unique("p")}@example.com`, name: "P", passwordHash: password ? await hashPassword(password) : null } });
    return user;
  }

  it("ends the session on sign-out: the same cookie no longer authenticates", async () => {
    const user = await person();
    const { cookie, token } = await signIn(user.id);
    expect(await whoIs(cookie)).toBe(user.id);
    await options().events!.signOut!({ token, session: undefined as never });
    expect(await whoIs(cookie)).toBeNull();
    // next-auth's own session reads see it too: the token loses its user.
    const after = (await options().callbacks!.jwt!({ token } as never)) as JWT;
    expect(after.uid).toBeUndefined();
  });

  it("refuses a cookie without a stored session (forged or from before sessions were stored)", async () => {
    const user = await person();
    const cookie = `next-auth.session-token=${await encode({ token: { uid: user.id }, secret: process.env.NEXTAUTH_SECRET! })}`;
    expect(await whoIs(cookie)).toBeNull();
  });

  it("lists a person's sessions and signs out everywhere", async () => {
    const user = await person();
    const a = await signIn(user.id);
    const b = await signIn(user.id);
    const actor = (await resolveActor(db, new Headers({ cookie: a.cookie })))!;
    const me = callerFor(db, actor);
    const listed = await me.user.sessions();
    expect(listed).toHaveLength(2);
    expect(listed.filter((s) => s.current).map((s) => s.id)).toEqual([a.token.sid]);
    await me.user.endSessions({ sessionId: b.token.sid as string });
    expect(await whoIs(b.cookie)).toBeNull();
    expect(await whoIs(a.cookie)).toBe(user.id);
    const c = await signIn(user.id);
    expect(await me.user.endSessions({})).toEqual({ endedSessions: 2 });
    expect(await whoIs(a.cookie)).toBeNull();
    expect(await whoIs(c.cookie)).toBeNull();
  });

  it("ends the other sessions on a password change, and the new password signs in", async () => {
    const user = await person("the old password");
    const here = await signIn(user.id);
    const elsewhere = await signIn(user.id);
    const me = callerFor(db, (await resolveActor(db, new Headers({ cookie: here.cookie })))!);
    await expect(me.user.changePassword({ currentPassword: "not it at all", newPassword: "a new password" })).rejects.toThrow("The current password is not right.");
    expect(await me.user.changePassword({ currentPassword: "the old password", newPassword: "a new password" })).toEqual({ endedSessions: 1 });
    expect(await whoIs(elsewhere.cookie)).toBeNull();
    expect(await whoIs(here.cookie)).toBe(user.id);
    const provider = options().providers.find((p) => p.id === "credentials") as unknown as { options: { authorize(c: Record<string, string>, r: unknown): Promise<unknown> } };
    expect(await provider.options.authorize({ email: user.email, password: "a new password" }, { headers: {} })).toMatchObject({ id: user.id });
    expect(await provider.options.authorize({ email: user.email, password: "the old password" }, { headers: {} })).toBeNull();
  });

  it("lets an ADMIN end a member's sessions, but not an OWNER's", async () => {
    const viewer = await signIn(f.users.VIEWER.userId);
    const owner = await signIn(f.users.OWNER.userId);
    const admin = callerFor(db, f.users.ADMIN);
    expect((await admin.member.endSessions({ orgId: f.orgId, membershipId: f.memberships.VIEWER })).endedSessions).toBeGreaterThanOrEqual(1);
    expect(await whoIs(viewer.cookie)).toBeNull();
    await expect(admin.member.endSessions({ orgId: f.orgId, membershipId: f.memberships.OWNER })).rejects.toThrow("Only an OWNER");
    expect(await whoIs(owner.cookie)).toBe(f.users.OWNER.userId);
    await expect(callerFor(db, f.users.EDITOR).member.endSessions({ orgId: f.orgId, membershipId: f.memberships.VIEWER })).rejects.toThrow();
  });
});
