import fs from "node:fs";
import path from "node:path";
import { hkdfSync } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import { serverKey, writeKeyFileOnce } from "@/server/endpoints/crypto";

/**
 * A setting shared by every app instance, created once: concurrent first starts race on the
 * primary key and all read back the same winner.
 */
export async function getOrCreateSetting(db: PrismaClient, key: string, create: () => string): Promise<string> {
  await db.appSetting.createMany({ data: [{ key, value: create() }], skipDuplicates: true });
  const row = await db.appSetting.findUniqueOrThrow({ where: { key } });
  return row.value;
}

/** Where an upgrade moves the session secret that earlier versions kept in the database. */
export const LEGACY_SESSION_KEY_FILE = "session.key";
const LEGACY_SETTING = "nextauth_secret";

/**
 * Sets NEXTAUTH_SECRET, which signs session cookies, from outside the database, so a copy of the
 * database (a dump, a backup, the data folder's pglite/) cannot forge a session. In order:
 *  1. NEXTAUTH_SECRET from the environment;
 *  2. $HEARTH_DATA_DIR/session.key (mode 0600), where an upgrade moved the secret that earlier
 *     versions kept in the database (AppSetting "nextauth_secret"): moved, then deleted from the
 *     database, so sessions survive the upgrade;
 *  3. otherwise derived (HKDF) from the server key (HEARTH_SECRET_KEY or $HEARTH_DATA_DIR/secret.key),
 *     which instances sharing a database already share.
 */
export async function ensureAuthSecret(db: PrismaClient): Promise<void> {
  if (!process.env.NEXTAUTH_SECRET) {
    const file = path.join(path.resolve(process.env.HEARTH_DATA_DIR ?? "data"), LEGACY_SESSION_KEY_FILE);
    const legacy = await db.appSetting.findUnique({ where: { key: LEGACY_SETTING } });
    if (legacy) writeKeyFileOnce(file, legacy.value + "\n");
    process.env.NEXTAUTH_SECRET = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim() : sessionSecretFromServerKey();
  }
  // Whichever source is used now, the database must not keep a signing secret.
  await db.appSetting.deleteMany({ where: { key: LEGACY_SETTING } });
}

function sessionSecretFromServerKey(): string {
  return Buffer.from(hkdfSync("sha256", serverKey().key, Buffer.alloc(0), "hearth session cookie signing v1", 32)).toString("base64url");
}
