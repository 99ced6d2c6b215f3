import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedDatabaseLockedError, startEmbeddedDatabase } from "@/server/db/embedded";
import { getDatabaseUrl, getDb, migrationStatus, startDatabase } from "@/server/db";
import { blankEmbeddedDataDir, createBlankDatabase } from "../support/databases";

const tempDirs: string[] = [];
/** An initialized data directory (a fresh one would spend about 10 s in initdb). */
function tempDataDir() {
  const dataDir = blankEmbeddedDataDir();
  tempDirs.push(path.dirname(dataDir));
  return dataDir;
}
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe("embedded database", () => {
  it("initializes a new data directory, and keeps its data after stop and start", async () => {
    const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-embedded-")), "pglite");
    tempDirs.push(path.dirname(dataDir));
    const first = await startEmbeddedDatabase({ dataDir });
    await query(first.url, "CREATE TABLE kept (value text)");
    await query(first.url, "INSERT INTO kept VALUES ($1)", ["survives a restart"]);
    await first.stop();

    const second = await startEmbeddedDatabase({ dataDir });
    try {
      expect(await query(second.url, "SELECT value FROM kept")).toEqual([{ value: "survives a restart" }]);
    } finally {
      await second.stop();
    }
  });

  it("refuses a second open of a data directory that is in use", async () => {
    const dataDir = tempDataDir();
    const db = await startEmbeddedDatabase({ dataDir });
    try {
      await expect(startEmbeddedDatabase({ dataDir })).rejects.toBeInstanceOf(EmbeddedDatabaseLockedError);
    } finally {
      await db.stop();
    }
    const reopened = await startEmbeddedDatabase({ dataDir });
    await reopened.stop();
  });

  it("takes over a lock file left by a process that no longer exists", async () => {
    const dataDir = tempDataDir();
    fs.writeFileSync(`${dataDir}.lock`, "999999999");
    const db = await startEmbeddedDatabase({ dataDir });
    expect(fs.readFileSync(`${dataDir}.lock`, "utf8")).toBe(String(process.pid));
    await db.stop();
    expect(fs.existsSync(`${dataDir}.lock`)).toBe(false);
  });

  it("serves several pool connections at once", async () => {
    const db = await startEmbeddedDatabase({ dataDir: tempDataDir() });
    const pool = new pg.Pool({ connectionString: db.url, max: 5 });
    try {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.query("SELECT $1::int AS n", [i])));
      expect(results.map((r) => r.rows[0].n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    } finally {
      await pool.end();
      await db.stop();
    }
  });
});

describe("startDatabase", () => {
  it("starts the embedded database when DATABASE_URL is unset, migrated and set as the app's database", async () => {
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    const dataDir = tempDataDir();
    try {
      const started = await startDatabase({ dataDir });
      expect(started.embedded).toBe(true);
      expect(getDatabaseUrl()).toBe(started.url);
      expect(await getDb().organization.count()).toBe(0);
      expect((await migrationStatus()).pending).toEqual([]);
      await started.stop();
      expect(fs.existsSync(`${dataDir}.lock`)).toBe(false);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });

  it("uses DATABASE_URL when it is set, and applies pending migrations there", async () => {
    const blank = await createBlankDatabase("postgres");
    const saved = process.env.DATABASE_URL;
    process.env.DATABASE_URL = blank.url;
    try {
      const started = await startDatabase();
      expect(started).toMatchObject({ url: blank.url, embedded: false });
      expect((await migrationStatus(blank.url)).pending).toEqual([]);
      await started.stop();
    } finally {
      if (saved === undefined) delete process.env.DATABASE_URL;
      else process.env.DATABASE_URL = saved;
      await blank.drop();
    }
  });
});
