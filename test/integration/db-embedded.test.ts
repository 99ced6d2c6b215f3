import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { EmbeddedDatabaseLockedError, startEmbeddedDatabase } from "@/server/db/embedded";

const tempDirs: string[] = [];
function tempDataDir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-embedded-"));
  tempDirs.push(dir);
  return path.join(dir, "pglite");
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
  it("keeps its data after stop and start of the same data directory", async () => {
    const dataDir = tempDataDir();
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
    fs.mkdirSync(path.dirname(dataDir), { recursive: true });
    fs.writeFileSync(`${dataDir}.lock`, "999999999");
    const db = await startEmbeddedDatabase({ dataDir });
    expect(fs.readFileSync(`${dataDir}.lock`, "utf8")).toBe(String(process.pid));
    await db.stop();
    expect(fs.existsSync(`${dataDir}.lock`)).toBe(false);
  });

  it("serves several pool connections at once", async () => {
    const db = await startEmbeddedDatabase({ dataDir: null });
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
