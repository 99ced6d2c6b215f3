// Limits on failed authentication (server/auth/rate-limit.ts): the security probe signed in after 400
// wrong passwords and tried wrong API keys, node tokens, invitation tokens and /v1 keys at 80-440/s.
// Now each is limited per address (and per account or key), answered 429 with Retry-After, shared by
// instances through the database, and a limited sign-in spends no scrypt.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { hashPassword, verifyPassword } from "@/server/auth/password";
import { buildAuthOptions } from "@/server/auth/options";
import { authenticateApiKey, createApiKey } from "@/server/apikeys/service";
import { authenticateNodeToken, createNodeToken } from "@/server/node-registry/tokens";
import { handleNodeApi } from "@/server/node-registry/api";
import { previewInvite } from "@/server/invites/service";
import { serveOpenAiApi } from "@/server/serving/http";
import { GET as trpcRoute } from "@/app/api/trpc/[trpc]/route";
import { GET as downloadRoute } from "@/app/api/model-versions/[modelVersionId]/artifact/route";
import { RateLimited } from "@/server/errors";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

process.env.NEXTAUTH_SECRET ??= "rate-limit-test-secret";
let addressCounter = 0;
/** A fresh client address per check, so tests (and files sharing the database) do not share limits. */
const newAddress = () => `198.51.${(process.pid % 250) + 1}.${++addressCounter}-${unique("a")}`;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (e: unknown) => e,
  );
}

describe.each(TEST_DATABASE_KINDS)("limits on failed authentication on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let url: string;

  beforeAll(async () => {
    const opened = await openTestDatabase(kind);
    ({ db, close, url } = opened);
    setDatabaseUrl(url);
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  async function userWithPassword(password: string) {
    const email = `${unique("limited")}@example.com`;
    await db.user.create({ data: { email, name: "Limited", passwordHash: await hashPassword(password) } });
    return email;
  }

  it("stops password guessing: the right password after wrong ones is refused, with no scrypt spent", async () => {
    const provider = buildAuthOptions().providers.find((p) => p.id === "credentials") as unknown as {
      options: { authorize(c: Record<string, string>, req: { headers: Record<string, string> }): Promise<unknown> };
    };
    const signIn = (email: string, password: string, address: string) => provider.options.authorize({ email, password }, { headers: { "x-hearth-client-address": address } });
    const email = await userWithPassword("the right password");
    const address = newAddress();
    expect(await signIn(email, "the right password", address)).toMatchObject({ email });
    for (let i = 0; i < 12; i++) {
      const r = await rejection(signIn(email, `wrong ${i}`, newAddress()));
      if (r instanceof RateLimited) break;
    }
    // The account is limited, from any address: the right password no longer signs in.
    const refused = await rejection(signIn(email, "the right password", newAddress()));
    expect(refused).toBeInstanceOf(RateLimited);
    expect((refused as RateLimited).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it("checks no password while limited, backs off, limits an address across accounts, and forgives after a sign-in", async () => {
    const { authorizeCredentials } = await import("@/server/auth/credentials");
    let scrypts = 0;
    const counting = (p: string, h: string) => {
      scrypts++;
      return verifyPassword(p, h);
    };
    const email = await userWithPassword("right one");
    const address = newAddress();
    for (let i = 0; i < 5; i++) expect(await authorizeCredentials(db, { email, password: "nope" }, address, counting)).toBeNull();
    expect(scrypts).toBe(5);
    const limited = await rejection(authorizeCredentials(db, { email, password: "right one" }, address, counting));
    expect(limited).toBeInstanceOf(RateLimited);
    expect(scrypts).toBe(5);
    // Backoff: 1 s after the 5th failure; wait it out, fail again, and the block doubles.
    await new Promise((r) => setTimeout(r, 1100));
    expect(await authorizeCredentials(db, { email, password: "nope" }, address, counting)).toBeNull();
    expect(((await rejection(authorizeCredentials(db, { email, password: "right one" }, address, counting))) as RateLimited).retryAfterSeconds).toBe(2);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await authorizeCredentials(db, { email, password: "right one" }, address, counting)).toMatchObject({ email });
    expect(await db.authThrottle.count({ where: { bucket: "signin:account", subject: email } })).toBe(0);

    // One address guessing many accounts.
    const spray = newAddress();
    const victim = await userWithPassword("victim's password");
    for (let i = 0; i < 20; i++) await authorizeCredentials(db, { email: `${unique("nobody")}@example.com`, password: "x" }, spray, counting);
    const before = scrypts;
    expect(await rejection(authorizeCredentials(db, { email: victim, password: "victim's password" }, spray, counting))).toBeInstanceOf(RateLimited);
    expect(scrypts).toBe(before);
    expect(await authorizeCredentials(db, { email: victim, password: "victim's password" }, newAddress(), counting)).toMatchObject({ email: victim });
  });

  it("limits wrong API keys per address and per key, answers 429 with Retry-After, and shares blocks between instances", async () => {
    const { secret } = await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("k"), scopes: ["models:read"] });
    const prefix = secret.split("_")[1];
    const address = newAddress();
    for (let i = 0; i < 20; i++) expect(await authenticateApiKey(db, `hth_${"0".repeat(12)}_${"x".repeat(32)}`, address)).toBeNull();
    expect(await rejection(authenticateApiKey(db, secret, address))).toBeInstanceOf(RateLimited);
    expect(await authenticateApiKey(db, secret, newAddress())).toMatchObject({ type: "apiKey" });

    // Another instance on the same database (its own client and memory) reads the block from the database.
    const other = await openTestDatabase(kind);
    try {
      expect(await rejection(authenticateApiKey(other.db, secret, address))).toBeInstanceOf(RateLimited);
    } finally {
      await other.close();
    }

    // Wrong secrets for one key from many addresses: further wrong ones are refused; the right one works.
    for (let i = 0; i < 10; i++) expect(await authenticateApiKey(db, `hth_${prefix}_${"y".repeat(32)}`, newAddress())).toBeNull();
    expect(await rejection(authenticateApiKey(db, `hth_${prefix}_${"z".repeat(32)}`, newAddress()))).toBeInstanceOf(RateLimited);
    expect(await authenticateApiKey(db, secret, newAddress())).toMatchObject({ type: "apiKey" });

    // Successes write nothing.
    const rows = await db.authThrottle.count();
    for (let i = 0; i < 5; i++) await authenticateApiKey(db, secret, newAddress());
    expect(await db.authThrottle.count()).toBe(rows);

    // Over HTTP: tRPC and the plain routes answer 429 with Retry-After.
    const headers = { authorization: "Bearer hth_000000000000_wrongwrongwrongwrongwrongwrongwr", "x-hearth-client-address": address };
    const trpc = await trpcRoute(new Request(`http://localhost/api/trpc/project.list?input=${encodeURIComponent(JSON.stringify({ json: { orgId: f.orgId } }))}`, { headers }));
    expect(trpc.status).toBe(429);
    expect(Number(trpc.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const download = await downloadRoute(new Request("http://localhost/api/model-versions/x/artifact", { headers }), { params: Promise.resolve({ modelVersionId: "x" }) });
    expect(download.status).toBe(429);
    expect(Number(download.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("limits wrong node tokens, invitation tokens and /v1 keys per address", async () => {
    const { secret } = await createNodeToken(db, f.users.OWNER, f.orgId, unique("node"));
    const address = newAddress();
    for (let i = 0; i < 20; i++) expect(await authenticateNodeToken(db, `hnt_${"0".repeat(12)}_${"x".repeat(32)}`, address)).toMatchObject({ refused: "Unknown node token." });
    expect(await rejection(authenticateNodeToken(db, secret, address))).toBeInstanceOf(RateLimited);
    const register = await handleNodeApi(db, new Request("http://node-api.local/api/node/register", { method: "POST", headers: { authorization: `Bearer ${secret}`, "x-hearth-client-address": address }, body: JSON.stringify({ name: "gpu-1", adapter: { vendor: "test", architecture: "", device: "", description: "" }, features: [], limits: {}, memoryBytes: null, version: "test" }) }));
    expect(register.status).toBe(429);
    expect(Number(register.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);

    const inviter = newAddress();
    for (let i = 0; i < 20; i++) await rejection(previewInvite(db, `not-a-real-invitation-token-${i}`, inviter));
    expect(await rejection(previewInvite(db, f.inviteToken, inviter))).toBeInstanceOf(RateLimited);
    expect(await previewInvite(db, f.inviteToken, newAddress())).toMatchObject({ state: "valid" });

    const server = http.createServer((req, res) => void serveOpenAiApi(req, res, { db, routeCompletion: async () => Promise.reject(new Error("unused")) }));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models`;
      const v1 = newAddress();
      const statuses: number[] = [];
      let last: Response | undefined;
      for (let i = 0; i < 21; i++) {
        last = await fetch(base, { headers: { authorization: "Bearer hth_000000000000_wrongwrongwrongwrongwrongwrongwr", "x-hearth-client-address": v1 } });
        statuses.push(last.status);
      }
      expect(statuses.slice(0, 20).every((s) => s === 401)).toBe(true);
      expect(statuses[20]).toBe(429);
      expect(Number(last!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((await last!.json()).error.type).toBe("rate_limit_error");
    } finally {
      server.close();
    }
  });
});
