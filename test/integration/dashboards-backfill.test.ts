// The migration that introduced EvalRunStat backfills the eval runs that had succeeded before it: on a
// database of its own, history is generated through the real path (transitionRun writes the stats),
// the table is dropped as if the migration had never run, and the migration's SQL, run as is,
// must give back exactly the rows the service wrote.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { applyMigrations } from "@/server/db/migrate";
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from "@/server/db/migrations-dir";
import { createBlankDatabase, TEST_DATABASE_KINDS, type BlankDatabase } from "../support/databases";
import { generateDashboardHistory } from "../bench/dashboard-history";

const migration = readMigrationsDir(DEFAULT_MIGRATIONS_DIR).migrations.find((m) => m.name.endsWith("_eval_run_stats"))!;
const migrationSql = fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, migration.name, "migration.sql"), "utf8");

const STATS = `SELECT "runId", scope::text AS scope, tag, clause, cases, passed FROM "EvalRunStat" ORDER BY 1, 2, 3, 4`;

describe.each(TEST_DATABASE_KINDS)("EvalRunStat backfill on %s", (kind) => {
  let blank: BlankDatabase;
  let db: PrismaClient;
  let client: pg.Client;

  beforeAll(async () => {
    blank = await createBlankDatabase(kind);
    await applyMigrations(blank.url);
    db = createPrismaClient(blank.url);
    const user = await db.user.create({ data: { email: "backfill@example.test", name: "Backfill" } });
    const org = await db.organization.create({ data: { name: "Backfill", slug: "backfill" } });
    await generateDashboardHistory(db, { orgId: org.id, userId: user.id, now: new Date(), shape: { versions: 6, suites: 2, cases: 30, clauses: 5, seed: 3 } });
    client = new pg.Client({ connectionString: blank.url });
    await client.connect();
  }, 120_000);
  afterAll(async () => {
    await client?.end();
    await db?.$disconnect();
    await blank?.drop();
  });

  it("gives every run that succeeded before the migration the stats the service writes", async () => {
    const written = (await client.query(STATS)).rows;
    const succeeded = (await client.query(`SELECT count(*)::int AS n FROM "Run" WHERE kind = 'EVAL' AND status = 'SUCCEEDED'`)).rows[0].n;
    expect(new Set(written.filter((r) => r.scope === "RUN").map((r) => r.runId)).size).toBe(succeeded);
    expect(written.some((r) => r.scope === "TAG_CLAUSE")).toBe(true);

    // The database as it was before the migration: no table, no type, the index it dropped.
    await client.query(`DROP TABLE "EvalRunStat"; DROP TYPE "EvalStatScope"; CREATE INDEX "EvalResult_runId_caseId_pass_idx" ON "EvalResult"("runId", "caseId", "pass")`);
    await client.query(migrationSql);
    expect((await client.query(STATS)).rows).toEqual(written);
  });
});
