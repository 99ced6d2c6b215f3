// What the app needs from the database layer. server/main.ts calls startDatabase() once at start;
// everything else uses getDb().
import { closeDb, setDatabaseUrl } from "./client";
import { DEFAULT_EMBEDDED_DATA_DIR, startEmbeddedDatabase } from "./embedded";
import { applyMigrations } from "./migrate";
import { defaultMigrationsDir } from "./migrations-dir";
import { dbState } from "./state";
import path from "node:path";

export { createPrismaClient, getDb, getDatabaseUrl, setDatabaseUrl, closeDb, PrismaClient, Prisma } from "./client";
export { applyMigrations, migrationStatus, MigrationError, type MigrationStatus } from "./migrate";
export { startEmbeddedDatabase, EmbeddedDatabaseLockedError, type EmbeddedDatabase } from "./embedded";

export interface StartedDatabase {
  url: string;
  /** True when no DATABASE_URL was set and this process serves an embedded PGlite. */
  embedded: boolean;
  /** Disconnects the app's client and, if embedded, closes the database. */
  stop(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PGlite in `dataDir` when it is unset; applies
 * pending migrations; makes the database the one getDb() returns.
 */
export async function startDatabase(options: { dataDir?: string; migrationsDir?: string } = {}): Promise<StartedDatabase> {
  const externalUrl = process.env.DATABASE_URL || undefined;
  const embedded = externalUrl ? undefined : await startEmbeddedDatabase({ dataDir: options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR });
  const url = externalUrl ?? embedded!.url;
  const migrationsDir = path.resolve(options.migrationsDir ?? defaultMigrationsDir());
  try {
    await applyMigrations(url, { migrationsDir });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  setDatabaseUrl(url);
  dbState().migrationsDir = migrationsDir;
  return {
    url,
    embedded: Boolean(embedded),
    async stop() {
      await closeDb();
      await embedded?.stop();
    },
  };
}
