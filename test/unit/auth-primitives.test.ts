import { describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import { hashPassword, verifyPassword } from "@/server/auth/password";
import { parseCookieHeader, userIdFromCookieHeader } from "@/server/auth/session";
import { roleAtLeast } from "@/contracts/roles";
import { slugify } from "@/server/slug";

describe("password hashing", () => {
  it("stores a salted scrypt hash that verifies only the same password", async () => {
    const hash = await hashPassword("correct horse battery staple");
    expect(hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(hash).not.toContain("correct horse");
    expect(await verifyPassword("correct horse battery staple", hash)).toBe(true);
    expect(await verifyPassword("correct horse battery stapler", hash)).toBe(false);
  });

  it("salts each hash differently", async () => {
    expect(await hashPassword("same password 123")).not.toBe(await hashPassword("same password 123"));
  });

  it("rejects malformed stored hashes instead of throwing", async () => {
    expect(await verifyPassword("anything", "md5$abc")).toBe(false);
    expect(await verifyPassword("anything", "")).toBe(false);
  });
});

describe("session cookies", () => {
  it("parses a Cookie header, including encoded values", () => {
    const cookies = parseCookieHeader("a=1; next-auth.session-token=x%2By; broken; b = 2");
    expect(cookies.get("a")).toBe("1");
    expect(cookies.get("next-auth.session-token")).toBe("x+y");
    expect(cookies.get("b")).toBe("2");
  });

  // One stored session, live: the lookup userIdFromCookieHeader makes (server/auth/sessions.ts).
  const sessions = {
    session: {
      findUnique: async ({ where }: { where: { id: string } }) => (where.id === "sid_1" ? { userId: "user_123", expiresAt: new Date(Date.now() + 60_000), endedAt: null } : null),
    },
  } as never;

  it("reads the user id from a real next-auth session token, whole or chunked", async () => {
    process.env.NEXTAUTH_SECRET = "test-secret-for-session-cookies";
    const token = await encode({ token: { uid: "user_123", sid: "sid_1" }, secret: process.env.NEXTAUTH_SECRET });
    expect(await userIdFromCookieHeader(sessions, `next-auth.session-token=${token}`)).toBe("user_123");
    const half = Math.floor(token.length / 2);
    expect(await userIdFromCookieHeader(sessions, `next-auth.session-token.0=${token.slice(0, half)}; next-auth.session-token.1=${token.slice(half)}`)).toBe("user_123");
  });

  it("refuses a token signed with another secret, garbage, and tokens without a live stored session", async () => {
    process.env.NEXTAUTH_SECRET = "test-secret-for-session-cookies";
    const forged = await encode({ token: { uid: "user_123", sid: "sid_1" }, secret: "attacker-secret" });
    expect(await userIdFromCookieHeader(sessions, `next-auth.session-token=${forged}`)).toBeNull();
    expect(await userIdFromCookieHeader(sessions, "next-auth.session-token=not-a-jwt")).toBeNull();
    expect(await userIdFromCookieHeader(sessions, undefined)).toBeNull();
    const noSession = await encode({ token: { uid: "user_123" }, secret: process.env.NEXTAUTH_SECRET });
    expect(await userIdFromCookieHeader(sessions, `next-auth.session-token=${noSession}`)).toBeNull();
    const otherUser = await encode({ token: { uid: "user_456", sid: "sid_1" }, secret: process.env.NEXTAUTH_SECRET });
    expect(await userIdFromCookieHeader(sessions, `next-auth.session-token=${otherUser}`)).toBeNull();
  });
});

describe("roles", () => {
  it("orders OWNER > ADMIN > EDITOR > VIEWER", () => {
    expect(roleAtLeast("OWNER", "ADMIN")).toBe(true);
    expect(roleAtLeast("ADMIN", "ADMIN")).toBe(true);
    expect(roleAtLeast("EDITOR", "ADMIN")).toBe(false);
    expect(roleAtLeast("VIEWER", "EDITOR")).toBe(false);
    expect(roleAtLeast("VIEWER", "VIEWER")).toBe(true);
  });

  it("puts no role (a page still loading, or no membership) below every role", () => {
    expect(roleAtLeast(null, "VIEWER")).toBe(false);
    expect(roleAtLeast(undefined, "VIEWER")).toBe(false);
  });
});

describe("slugify", () => {
  it("makes readable URL-safe slugs", () => {
    expect(slugify("Acme Corp: Support & Refunds")).toBe("acme-corp-support-refunds");
    expect(slugify("Café Ünïcode")).toBe("cafe-unicode");
    expect(slugify("!!!")).toBe("item");
  });
});
