// Many connections sending extended-protocol queries at once to the embedded database must each get
// their own answers: no statement may run with another connection's parameters.
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedDatabase, type EmbeddedDatabase } from "@/server/db/embedded";
import { blankEmbeddedDataDir } from "../support/databases";

describe("embedded database under concurrent connections", () => {
  let database: EmbeddedDatabase;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = blankEmbeddedDataDir();
    database = await startEmbeddedDatabase({ dataDir });
  });
  afterAll(async () => {
    await database?.stop();
    fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  it("answers each connection's parameterized queries with its own parameters", async () => {
    const pool = new pg.Pool({ connectionString: database.url, max: 8 });
    try {
      const big = "x".repeat(200_000); // spans several socket reads
      const jobs = Array.from({ length: 200 }, (_, i) =>
        i % 3 === 0
          ? pool.query("SELECT $1::int + $2::int AS v, $3::text AS tag", [i, 1, `t${i}`]).then((r) => expect(r.rows[0]).toEqual({ v: i + 1, tag: `t${i}` }))
          : i % 3 === 1
            ? pool.query("SELECT $1::int * 2 AS v", [i]).then((r) => expect(r.rows[0]).toEqual({ v: i * 2 }))
            : pool.query("SELECT length($1::text) AS n, $2::int AS i", [big, i]).then((r) => expect(r.rows[0]).toEqual({ n: big.length, i })),
      );
      await Promise.all(jobs);
    } finally {
      await pool.end();
    }
  });
});
