// `npx hearth reset-password <email>` (bin/hearth.mjs): sets a new random password on the database
// Hearth uses (DATABASE_URL, or the embedded one in $HEARTH_DATA_DIR, default ./data; stop Hearth first
// when it is embedded) and prints it once.
import path from "node:path";
import { startDatabase } from "../server/db";
import { getDb } from "../server/db/client";
import { resetPassword } from "../server/users/reset-password";

export async function runResetPassword(argv: string[]): Promise<number> {
  const email = argv[0];
  if (!email || argv.length !== 1) {
    console.error("Usage: hearth reset-password <email>");
    return 2;
  }
  const dataDir = path.resolve(process.env.HEARTH_DATA_DIR ?? "data");
  process.env.HEARTH_DATA_DIR = dataDir;
  process.env.HEARTH_MIGRATIONS_DIR ??= path.join(import.meta.dirname, "..", "prisma", "migrations");
  const database = await startDatabase({ dataDir: path.join(dataDir, "pglite") });
  try {
    const result = await resetPassword(getDb(), email, { dataDir });
    console.log(`New password for ${result.email}: ${result.password}`);
    console.log(`${result.endedSessions} session(s) ended.`);
    return 0;
  } catch (error) {
    console.error((error as Error).message);
    return 1;
  } finally {
    await database.stop();
  }
}
