// `npm run db:migrate`: applies pending migrations to DATABASE_URL (or to the embedded database in
// ./data/pglite when it is unset) and prints the migration status.
import { applyMigrations, migrationStatus } from "../server/db/migrate";
import { DEFAULT_EMBEDDED_DATA_DIR, startEmbeddedDatabase } from "../server/db/embedded";

async function main() {
  const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedDatabase({ dataDir: DEFAULT_EMBEDDED_DATA_DIR });
  const url = process.env.DATABASE_URL || embedded!.url;
  try {
    console.log(embedded ? `Embedded database in ${embedded.dataDir}` : `Database from DATABASE_URL`);
    const { applied } = await applyMigrations(url);
    for (const name of applied) console.log(`applied  ${name}`);
    const status = await migrationStatus(url);
    console.log(`${status.applied.length} applied, ${status.pending.length} pending, ${status.failed.length} failed`);
    if (!applied.length) console.log("Already up to date.");
  } finally {
    await embedded?.stop();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
