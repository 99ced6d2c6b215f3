import { randomBytes } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";

/**
 * A setting shared by every app instance, created once: concurrent first starts race on the
 * primary key and all read back the same winner.
 */
export async function getOrCreateSetting(db: PrismaClient, key: string, create: () => string): Promise<string> {
  await db.appSetting.createMany({ data: [{ key, value: create() }], skipDuplicates: true });
  const row = await db.appSetting.findUniqueOrThrow({ where: { key } });
  return row.value;
}

/** NEXTAUTH_SECRET from the environment, or one generated at first start and kept in the database. */
export async function ensureAuthSecret(db: PrismaClient): Promise<void> {
  if (process.env.NEXTAUTH_SECRET) return;
  process.env.NEXTAUTH_SECRET = await getOrCreateSetting(db, "nextauth_secret", () => randomBytes(32).toString("base64url"));
}
