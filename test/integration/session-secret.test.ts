// The secret that signs session cookies lives outside the database (like HEARTH_SECRET_KEY): a copy
// of the database, or of the data folder's database alone, must not be enough to forge a session.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { decode, encode } from "next-auth/jwt";
import type { PrismaClient } from "@/server/db/generated/client";
import { ensureAuthSecret } from "@/server/settings";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";

/** What a forged cookie signed with `secret` gives the server that holds the real secret: a user id, or null. */
async function acceptedUid(secret: string): Promise<string | null> {
  const forged = await encode({ token: { uid: "owner-id" }, secret });
  try {
    const payload = await decode({ token: forged, secret: process.env.NEXTAUTH_SECRET! });
    return typeof payload?.uid === "string" ? payload.uid : null;
  } catch {
    return null;
  }
}

describe.each(TEST_DATABASE_KINDS)("the session-signing secret on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let dataDir: string;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
  });
  afterAll(async () => close?.());
  beforeEach(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-session-secret-"));
    process.env.HEARTH_DATA_DIR = dataDir;
    delete process.env.NEXTAUTH_SECRET;
    delete process.env.HEARTH_SECRET_KEY;
    await db.appSetting.deleteMany({ where: { key: "nextauth_secret" } });
  });

  it("is kept out of the database, so a dump of it cannot sign in", async () => {
    await ensureAuthSecret(db);
    const secret = process.env.NEXTAUTH_SECRET!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(await acceptedUid(secret)).toBe("owner-id"); // the check itself works
    // The attacker's copy of the database: every setting, tried as a signing key.
    const dump = await db.appSetting.findMany();
    expect(JSON.stringify(dump)).not.toContain(secret);
    for (const row of dump) expect(await acceptedUid(row.value)).toBeNull();
    // The same secret on the next start from the same data folder; another server key, another secret.
    delete process.env.NEXTAUTH_SECRET;
    await ensureAuthSecret(db);
    expect(process.env.NEXTAUTH_SECRET).toBe(secret);
    delete process.env.NEXTAUTH_SECRET;
    process.env.HEARTH_SECRET_KEY = Buffer.alloc(32, 9).toString("base64");
    await ensureAuthSecret(db);
    expect(process.env.NEXTAUTH_SECRET).not.toBe(secret);
  });

  it("moves a secret an earlier version kept in the database to a 0600 file on upgrade, keeping sessions", async () => {
    await db.appSetting.create({ data: { key: "nextauth_secret", value: "legacy-secret-from-the-database" } });
    await ensureAuthSecret(db);
    expect(process.env.NEXTAUTH_SECRET).toBe("legacy-secret-from-the-database");
    expect(await db.appSetting.findUnique({ where: { key: "nextauth_secret" } })).toBeNull();
    const file = path.join(dataDir, "session.key");
    expect(fs.readFileSync(file, "utf8").trim()).toBe("legacy-secret-from-the-database");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    delete process.env.NEXTAUTH_SECRET;
    await ensureAuthSecret(db);
    expect(process.env.NEXTAUTH_SECRET).toBe("legacy-secret-from-the-database");
  });

  it("takes NEXTAUTH_SECRET from the environment, and still clears a copy from the database", async () => {
    await db.appSetting.create({ data: { key: "nextauth_secret", value: "legacy" } });
    process.env.NEXTAUTH_SECRET = "from-the-environment";
    await ensureAuthSecret(db);
    expect(process.env.NEXTAUTH_SECRET).toBe("from-the-environment");
    expect(await db.appSetting.findUnique({ where: { key: "nextauth_secret" } })).toBeNull();
  });
});
