// Applies prisma/migrations to a database the way `prisma migrate deploy` does, recording each one
// in `_prisma_migrations` with Prisma's own table layout and checksums, so a user with the stock
// CLI can later run `prisma migrate deploy` / `migrate status` and see the same history.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { getDatabaseUrl } from "./client";
import { checksumMatches, defaultMigrationsDir, readMigrationsDir, type MigrationFile } from "./migrations-dir";

// The key `prisma migrate deploy` itself locks, so the app and the CLI never migrate at once.
// On PGlite every connection shares one session, so the lock cannot exclude anything there; it
// does not need to, since only one process can open a PGlite data directory.
const PRISMA_MIGRATE_ADVISORY_LOCK = 72707369;

// The same table (columns, types, defaults) that Prisma's schema engine creates for PostgreSQL.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "MigrationError";
  }
}

export interface MigrationOptions {
  /** Defaults to prisma/migrations of this checkout. */
  migrationsDir?: string;
}

export interface MigrationStatus {
  /** Applied successfully, in directory order (plus any applied ones the directory lacks, last). */
  applied: string[];
  /** In the directory, not yet applied. */
  pending: string[];
  /** Started and never finished nor rolled back: `prisma migrate resolve` is needed. */
  failed: string[];
  /** Applied, but migration.sql has changed since. */
  edited: string[];
}

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies every pending migration, each in its own transaction together with its
 * `_prisma_migrations` row. Refuses to run when the history is broken (a failed or edited
 * migration). Returns the names it applied.
 */
export async function applyMigrations(databaseUrl: string, options: MigrationOptions = {}): Promise<{ applied: string[] }> {
  // The advisory lock cannot order two callers in one process on PGlite (one shared session), so
  // callers in this process also queue here.
  const previous = inProcessQueue.get(databaseUrl) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => applyMigrationsLocked(databaseUrl, options));
  const settled = run.then(
    () => {},
    () => {},
  );
  inProcessQueue.set(databaseUrl, settled);
  void settled.then(() => {
    if (inProcessQueue.get(databaseUrl) === settled) inProcessQueue.delete(databaseUrl);
  });
  return run;
}

const inProcessQueue = new Map<string, Promise<void>>();

async function applyMigrationsLocked(databaseUrl: string, options: MigrationOptions): Promise<{ applied: string[] }> {
  const { migrations } = readMigrationsDir(options.migrationsDir ?? defaultMigrationsDir());
  return withClient(databaseUrl, async (client) => {
    await client.query("SELECT pg_advisory_lock($1)", [PRISMA_MIGRATE_ADVISORY_LOCK]);
    try {
      await client.query(CREATE_MIGRATIONS_TABLE);
      const status = statusFrom(migrations, await readRows(client));
      assertHealthyHistory(status);
      const applied: string[] = [];
      for (const name of status.pending) {
        await applyOne(client, migrations.find((m) => m.name === name)!);
        applied.push(name);
      }
      return { applied };
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [PRISMA_MIGRATE_ADVISORY_LOCK]).catch(() => {});
    }
  });
}

/**
 * The migration history as the health endpoint reports it; reads only, never creates the table.
 * Without a URL (or with ""), reports on the app's database (see setDatabaseUrl), which is how
 * the embedded database, which has no DATABASE_URL, is found.
 */
export async function migrationStatus(databaseUrl?: string, options: MigrationOptions = {}): Promise<MigrationStatus> {
  databaseUrl ||= getDatabaseUrl();
  if (!databaseUrl) throw new Error("migrationStatus: no database URL given and none configured (setDatabaseUrl).");
  const { migrations } = readMigrationsDir(options.migrationsDir ?? defaultMigrationsDir());
  return withClient(databaseUrl, async (client) => {
    const exists = await client.query<{ exists: boolean }>(
      "SELECT to_regclass('\"_prisma_migrations\"') IS NOT NULL AS exists",
    );
    return statusFrom(migrations, exists.rows[0].exists ? await readRows(client) : []);
  });
}

async function applyOne(client: pg.Client, migration: MigrationFile) {
  const id = randomUUID();
  await client.query("BEGIN");
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" ("id", "checksum", "migration_name", "started_at", "applied_steps_count")
       VALUES ($1, $2, $3, now(), 0)`,
      [id, migration.checksum, migration.name],
    );
    // Without parameters, pg uses the simple query protocol, which runs a multi-statement script.
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET "finished_at" = clock_timestamp(), "applied_steps_count" = 1 WHERE "id" = $1`,
      [id],
    );
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    // Rolled back as a whole, so nothing is half-applied and no failed row is left behind:
    // fixing the migration (or the database) and restarting retries it.
    throw new MigrationError(
      `Migration ${migration.name} failed and was rolled back: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

function assertHealthyHistory(status: MigrationStatus) {
  if (status.failed.length) {
    throw new MigrationError(
      `The database has failed migrations: ${status.failed.join(", ")}. Fix the database, then mark each ` +
        `one with \`npx prisma migrate resolve --rolled-back <name>\` (or --applied) before starting again.`,
    );
  }
  if (status.edited.length) {
    throw new MigrationError(
      `Applied migrations were modified after they ran: ${status.edited.join(", ")}. Restore their ` +
        `migration.sql from version control; put schema changes in a new migration instead.`,
    );
  }
}

function statusFrom(migrations: MigrationFile[], rows: MigrationRow[]): MigrationStatus {
  const live = rows.filter((row) => row.rolled_back_at === null);
  const finished = new Map(live.filter((row) => row.finished_at !== null).map((row) => [row.migration_name, row]));
  const failed = live.filter((row) => row.finished_at === null).map((row) => row.migration_name);
  const onDisk = new Set(migrations.map((m) => m.name));
  const applied = migrations.filter((m) => finished.has(m.name)).map((m) => m.name);
  applied.push(...[...finished.keys()].filter((name) => !onDisk.has(name)));
  return {
    applied,
    pending: migrations.filter((m) => !finished.has(m.name) && !failed.includes(m.name)).map((m) => m.name),
    failed: [...new Set(failed)],
    edited: migrations
      .filter((m) => finished.has(m.name) && !checksumMatches(m, finished.get(m.name)!.checksum))
      .map((m) => m.name),
  };
}

async function readRows(client: pg.Client): Promise<MigrationRow[]> {
  const result = await client.query<MigrationRow>(
    `SELECT "migration_name", "checksum", "finished_at", "rolled_back_at" FROM "_prisma_migrations" ORDER BY "started_at"`,
  );
  return result.rows;
}

async function withClient<T>(databaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
