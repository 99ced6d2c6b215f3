// The migrations that introduced EvalRunStat and SuiteVersionStat backfill what existed before them:
// on a database of its own, history is generated through the real paths (transitionRun writes run
// stats, the SuiteVersion trigger writes suite version stats), a table is dropped as if its migration
// had never run, and the migration's SQL, run as is, must give back exactly the rows written live.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { applyMigrations } from "@/server/db/migrate";
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from "@/server/db/migrations-dir";
import { createBlankDatabase, TEST_DATABASE_KINDS, type BlankDatabase } from "../support/databases";
import { generateDashboardHistory } from "../bench/dashboard-history";

function migrationSql(suffix: string): string {
  const migration = readMigrationsDir(DEFAULT_MIGRATIONS_DIR).migrations.find((m) => m.name.endsWith(suffix))!;
  return fs.readFileSync(path.join(DEFAULT_MIGRATIONS_DIR, migration.name, "migration.sql"), "utf8");
}

const RUN_STATS = `SELECT "runId", scope::text AS scope, tag, clause, cases, passed FROM "EvalRunStat" ORDER BY 1, 2, 3, 4`;
const SUITE_STATS = `SELECT "suiteVersionId", scope::text AS scope, tag, clause, cases FROM "SuiteVersionStat" ORDER BY 1, 2, 3, 4`;

// The two tests run in order: the second undoes both migrations.
describe.each(TEST_DATABASE_KINDS)("stats backfills on %s", (kind) => {
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

  it("gives every suite version published before the migration the counts its trigger writes, as the cases say", async () => {
    const written = (await client.query(SUITE_STATS)).rows;
    const versions = (await client.query(`SELECT id, cases FROM "SuiteVersion" ORDER BY id`)).rows as { id: string; cases: { tags?: string[]; clauses?: string[] }[] }[];
    // Counted in plain code from the cases.
    const expected: typeof written = [];
    for (const v of versions) {
      const counts = new Map<string, number>();
      for (const c of v.cases) {
        const tags = [...new Set(c.tags ?? [])];
        const clauses = [...new Set(c.clauses ?? [])];
        const keys = [...tags.map((t) => `TAG\u0000${t}\u0000`), ...clauses.map((cl) => `CLAUSE\u0000\u0000${cl}`), ...tags.flatMap((t) => clauses.map((cl) => `TAG_CLAUSE\u0000${t}\u0000${cl}`))];
        for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      for (const [key, cases] of counts) {
        const [scope, tag, clause] = key.split("\u0000");
        expected.push({ suiteVersionId: v.id, scope, tag, clause, cases });
      }
    }
    const order = (rows: typeof written) => [...rows].sort((a, b) => JSON.stringify([a.suiteVersionId, a.scope, a.tag, a.clause]).localeCompare(JSON.stringify([b.suiteVersionId, b.scope, b.tag, b.clause])));
    expect(order(written)).toEqual(order(expected));
    expect(written.length).toBeGreaterThan(0);

    await client.query(`DROP TRIGGER "SuiteVersion_stats" ON "SuiteVersion"; DROP FUNCTION hearth_suite_version_stats(); DROP FUNCTION hearth_case_label_counts(jsonb); DROP TABLE "SuiteVersionStat"`);
    await client.query(migrationSql("_suite_version_stats"));
    expect((await client.query(SUITE_STATS)).rows).toEqual(written);
  });

  it("gives every run that succeeded before the migration the stats the service writes", async () => {
    const written = (await client.query(RUN_STATS)).rows;
    const succeeded = (await client.query(`SELECT count(*)::int AS n FROM "Run" WHERE kind = 'EVAL' AND status = 'SUCCEEDED'`)).rows[0].n;
    expect(new Set(written.filter((r) => r.scope === "RUN").map((r) => r.runId)).size).toBe(succeeded);
    expect(written.some((r) => r.scope === "TAG_CLAUSE")).toBe(true);

    // The database as it was before the migration: no table, no type (nor the later suite version
    // stats, which use it), the index it dropped.
    await client.query(`DROP TRIGGER "SuiteVersion_stats" ON "SuiteVersion"; DROP FUNCTION hearth_suite_version_stats(); DROP FUNCTION hearth_case_label_counts(jsonb); DROP TABLE "SuiteVersionStat"`);
    await client.query(`DROP TABLE "EvalRunStat"; DROP TYPE "EvalStatScope"; CREATE INDEX "EvalResult_runId_caseId_pass_idx" ON "EvalResult"("runId", "caseId", "pass")`);
    await client.query(migrationSql("_eval_run_stats"));
    expect((await client.query(RUN_STATS)).rows).toEqual(written);
  });
});
