// Migrations on both databases: applied and recorded exactly as `prisma migrate deploy` records them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations, MigrationError, migrationStatus } from "@/server/db/migrate";
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir, sha256Hex } from "@/server/db/migrations-dir";
import { withSchemaEngine } from "@/server/db/schema-engine";
import { createBlankDatabase, TEST_DATABASE_KINDS, type BlankDatabase } from "../support/databases";

const committed = readMigrationsDir(DEFAULT_MIGRATIONS_DIR).migrations;
const committedNames = committed.map((m) => m.name);
const schemaPath = path.resolve(import.meta.dirname, "../../prisma/schema.prisma");

async function query<T extends pg.QueryResultRow = Record<string, unknown>>(url: string, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

const describeMigrationsTable = (url: string) =>
  query(
    url,
    `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
       FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
  );
const migrationsTableKey = (url: string) =>
  query(
    url,
    `SELECT kcu.column_name, tc.constraint_type FROM information_schema.table_constraints tc
       JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
      WHERE tc.table_name = '_prisma_migrations' ORDER BY 1, 2`,
  );

/** A copy of the committed migrations that a test may add to or edit. */
function copyOfMigrations(): string {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-migrations-")), "migrations");
  fs.cpSync(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
  return dir;
}

describe.each(TEST_DATABASE_KINDS)("migrations on %s", (kind) => {
  const blanks: BlankDatabase[] = [];
  async function blank() {
    const db = await createBlankDatabase(kind);
    blanks.push(db);
    return db.url;
  }
  afterAll(async () => {
    await Promise.allSettled(blanks.map((b) => b.drop()));
  });

  let migratedUrl: string;
  beforeAll(async () => {
    migratedUrl = await blank();
  });

  it("applies every migration and records each as prisma migrate deploy does", async () => {
    expect(committedNames.length).toBeGreaterThan(0);
    const { applied } = await applyMigrations(migratedUrl);
    expect(applied).toEqual(committedNames);

    const rows = await query(migratedUrl, `SELECT * FROM "_prisma_migrations" ORDER BY started_at`);
    expect(rows).toHaveLength(committed.length);
    rows.forEach((row, i) => {
      expect(row).toEqual({
        id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
        checksum: sha256Hex(fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, committedNames[i], "migration.sql"))),
        finished_at: expect.any(Date),
        migration_name: committedNames[i],
        logs: null,
        rolled_back_at: null,
        started_at: expect.any(Date),
        applied_steps_count: 1,
      });
      expect((row.finished_at as Date).getTime()).toBeGreaterThanOrEqual((row.started_at as Date).getTime());
    });
    const tables = await query<{ table_name: string }>(
      migratedUrl,
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
    );
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["User", "Organization", "Membership", "AuditLog"]));
  });

  it("creates _prisma_migrations exactly like Prisma's own schema engine does", async () => {
    const prismaUrl = await blank();
    await withSchemaEngine({ schemaPath, migrationsDir: DEFAULT_MIGRATIONS_DIR, databaseUrl: prismaUrl }, async ({ engine, migrationsList }) => {
      const result = await engine.applyMigrations({ migrationsList, filters: { externalTables: [], externalEnums: [] } });
      expect(result.appliedMigrationNames).toEqual(committedNames);
    });
    expect(await describeMigrationsTable(migratedUrl)).toEqual(await describeMigrationsTable(prismaUrl));
    expect(await migrationsTableKey(migratedUrl)).toEqual(await migrationsTableKey(prismaUrl));
    const shape = (rows: Record<string, unknown>[]) =>
      rows.map((r) => ({ ...r, id: typeof r.id, started_at: typeof r.started_at, finished_at: typeof r.finished_at }));
    const ours = await query(migratedUrl, `SELECT * FROM "_prisma_migrations" ORDER BY started_at`);
    const theirs = await query(prismaUrl, `SELECT * FROM "_prisma_migrations" ORDER BY started_at`);
    expect(shape(ours)).toEqual(shape(theirs));
  });

  it("leaves a history that Prisma's schema engine sees as fully applied", async () => {
    await withSchemaEngine({ schemaPath, migrationsDir: DEFAULT_MIGRATIONS_DIR, databaseUrl: migratedUrl }, async ({ engine, migrationsList }) => {
      const diagnosis = await engine.diagnoseMigrationHistory({
        migrationsList,
        optInToShadowDatabase: false,
        filters: { externalTables: [], externalEnums: [] },
      });
      expect(diagnosis).toMatchObject({ history: null, failedMigrationNames: [], editedMigrationNames: [], hasMigrationsTable: true });
    });
  });

  it("does nothing when every migration is already applied", async () => {
    const before = await query(migratedUrl, `SELECT id, finished_at FROM "_prisma_migrations" ORDER BY id`);
    expect(await applyMigrations(migratedUrl)).toEqual({ applied: [] });
    expect(await query(migratedUrl, `SELECT id, finished_at FROM "_prisma_migrations" ORDER BY id`)).toEqual(before);
    expect(await migrationStatus(migratedUrl)).toEqual({ applied: committedNames, pending: [], failed: [], edited: [] });
  });

  it("reports a new migration as pending, then applies it", async () => {
    const url = await blank();
    const migrationsDir = copyOfMigrations();
    await applyMigrations(url, { migrationsDir });
    const name = "29990101000000_add_notes";
    fs.mkdirSync(path.join(migrationsDir, name));
    fs.writeFileSync(path.join(migrationsDir, name, "migration.sql"), `CREATE TABLE "Note" ("id" TEXT PRIMARY KEY, "body" TEXT NOT NULL);\n`);

    expect(await migrationStatus(url, { migrationsDir })).toEqual({ applied: committedNames, pending: [name], failed: [], edited: [] });
    expect(await applyMigrations(url, { migrationsDir })).toEqual({ applied: [name] });
    expect(await migrationStatus(url, { migrationsDir })).toMatchObject({ applied: [...committedNames, name], pending: [] });
    expect(await query(url, `SELECT count(*)::int AS n FROM "Note"`)).toEqual([{ n: 0 }]);
  });

  it("makes project names unique per organization, renaming the later duplicates by their slug", async () => {
    const url = await blank();
    const unique = "20261205204729_unique_project_names";
    const migrationsDir = copyOfMigrations();
    const held = path.join(path.dirname(migrationsDir), unique);
    fs.renameSync(path.join(migrationsDir, unique), held);
    for (const later of fs.readdirSync(migrationsDir).filter((m) => m > unique)) fs.rmSync(path.join(migrationsDir, later), { recursive: true });
    await applyMigrations(url, { migrationsDir });
    await query(url, `INSERT INTO "Organization" (id, name, slug) VALUES ('o1', 'One', 'one'), ('o2', 'Two', 'two')`);
    await query(
      url,
      `INSERT INTO "Project" (id, "orgId", name, slug, "createdAt", "updatedAt") VALUES
        ('p1', 'o1', 'Support bot', 'support-bot', now() - interval '2 days', now()),
        ('p2', 'o1', 'Support bot', 'support-bot-2', now() - interval '1 day', now()),
        ('p3', 'o2', 'Support bot', 'support-bot', now(), now())`,
    );
    fs.renameSync(held, path.join(migrationsDir, unique));
    await applyMigrations(url, { migrationsDir });
    expect(await query(url, `SELECT id, name FROM "Project" ORDER BY id`)).toEqual([
      { id: "p1", name: "Support bot" },
      { id: "p2", name: "Support bot (support-bot-2)" },
      { id: "p3", name: "Support bot" },
    ]);
    await expect(query(url, `INSERT INTO "Project" (id, "orgId", name, slug, "updatedAt") VALUES ('p4', 'o1', 'Support bot', 'support-bot-3', now())`)).rejects.toThrow(/unique/i);
  });

  it("reports every migration as pending on a database never migrated", async () => {
    const url = await blank();
    expect(await migrationStatus(url)).toEqual({ applied: [], pending: committedNames, failed: [], edited: [] });
    expect(await query(url, `SELECT to_regclass('"_prisma_migrations"') AS t`)).toEqual([{ t: null }]);
  });

  it("refuses to start when an applied migration's file was changed", async () => {
    const url = await blank();
    const migrationsDir = copyOfMigrations();
    await applyMigrations(url, { migrationsDir });
    fs.appendFileSync(path.join(migrationsDir, committedNames[0], "migration.sql"), "\n-- edited after it ran\n");

    await expect(applyMigrations(url, { migrationsDir })).rejects.toThrow(MigrationError);
    await expect(applyMigrations(url, { migrationsDir })).rejects.toThrow(/modified after they ran: .*_init/);
    expect((await migrationStatus(url, { migrationsDir })).edited).toEqual([committedNames[0]]);
  });

  it("accepts a migration whose line endings were converted, as Prisma does", async () => {
    const url = await blank();
    const migrationsDir = copyOfMigrations();
    await applyMigrations(url, { migrationsDir });
    const file = path.join(migrationsDir, committedNames[0], "migration.sql");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/\n/g, "\r\n"));
    expect(await applyMigrations(url, { migrationsDir })).toEqual({ applied: [] });
  });

  it("refuses to start when the database has a failed migration", async () => {
    const url = await blank();
    await applyMigrations(url);
    await query(
      url,
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, applied_steps_count)
       VALUES ('00000000-0000-4000-8000-000000000001', $1, '20990101000000_broken', 'syntax error', 0)`,
      ["0".repeat(64)],
    );
    await expect(applyMigrations(url)).rejects.toThrow(/failed migrations: 20990101000000_broken.*migrate resolve/);
    expect((await migrationStatus(url)).failed).toEqual(["20990101000000_broken"]);
  });

  it("rolls back a migration that fails, leaving no trace of it", async () => {
    const url = await blank();
    const migrationsDir = copyOfMigrations();
    const name = "29990101000000_half_broken";
    fs.mkdirSync(path.join(migrationsDir, name));
    fs.writeFileSync(path.join(migrationsDir, name, "migration.sql"), `CREATE TABLE "Partial" ("id" TEXT);\nSELECT 1 / 0;\n`);

    await expect(applyMigrations(url, { migrationsDir })).rejects.toThrow(/29990101000000_half_broken failed and was rolled back: division by zero/);
    expect(await query(url, `SELECT to_regclass('"Partial"') AS t`)).toEqual([{ t: null }]);
    expect(await migrationStatus(url, { migrationsDir })).toEqual({ applied: committedNames, pending: [name], failed: [], edited: [] });
  });

  it("applies each migration once when two instances start at the same time", async () => {
    const url = await blank();
    const results = await Promise.all([applyMigrations(url), applyMigrations(url), applyMigrations(url)]);
    expect(results.flatMap((r) => r.applied).sort()).toEqual([...committedNames].sort());
    expect(await query(url, `SELECT migration_name FROM "_prisma_migrations"`)).toHaveLength(committed.length);
  });
});

describe("migrations on postgres, from separate connections", () => {
  // On PostgreSQL the advisory lock (not only the in-process queue) must serialize two app
  // instances: simulate them with two processes' worth of connections racing via pg directly.
  let blankDb: BlankDatabase | undefined;
  afterEach(async () => blankDb?.drop());

  it("waits for another migrator holding Prisma's advisory lock", async () => {
    blankDb = await createBlankDatabase("postgres");
    const holder = new pg.Client({ connectionString: blankDb.url });
    await holder.connect();
    await holder.query("SELECT pg_advisory_lock(72707369)");
    let finished = false;
    const migrating = applyMigrations(blankDb.url).then((r) => {
      finished = true;
      return r;
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(finished).toBe(false);
    await holder.query("SELECT pg_advisory_unlock(72707369)");
    await holder.end();
    expect((await migrating).applied).toEqual(committedNames);
  });
});
