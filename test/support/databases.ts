// The databases integration tests run against: the embedded PGlite (over its socket, as the app
// uses it) and a real PostgreSQL cluster. The vitest global setup starts one migrated instance of
// each for the whole run and provides their URLs; test files (in parallel forks) share them, so
// tests must create their own uniquely named data rather than expect an empty database.
//
//   describe.each(TEST_DATABASE_KINDS)("... on %s", (kind) => {
//     let t: TestDatabase;
//     beforeAll(async () => { t = await openTestDatabase(kind); });
//     afterAll(() => t.close());
//   });
//
// Tests of migrations themselves need a blank database of their own: createBlankDatabase(kind).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { inject } from "vitest";
import type { TestProject } from "vitest/node";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { startEmbeddedDatabase, type EmbeddedDatabase } from "@/server/db/embedded";
import { applyMigrations } from "@/server/db/migrate";
import { findPostgresBinaries, startPostgresCluster, type PostgresCluster } from "./postgres";

export const TEST_DATABASE_KINDS = ["embedded", "postgres"] as const;
export type TestDatabaseKind = (typeof TEST_DATABASE_KINDS)[number];

export interface ProvidedDatabases {
  embedded: {
    /** The shared, migrated embedded database. */
    url: string;
    /** A closed, initialized, never-migrated PGlite data directory to copy for blank databases. */
    blankTemplateDir: string;
    /** A closed, migrated PGlite data directory to copy for a test file's own database. */
    migratedTemplateDir: string;
  };
  postgres:
    | {
        /** The shared, migrated database `hearth_test`. */
        url: string;
        /** The cluster's `postgres` database, to create blank databases from. */
        adminUrl: string;
        /** A migrated database nobody connects to, the template of a test file's own database. */
        template: string;
        version: number;
      }
    | { unavailable: string };
}

declare module "vitest" {
  export interface ProvidedContext {
    databases: ProvidedDatabases;
  }
}

// ---------------------------------------------------------------------------------------------
// Global setup (runs once per `vitest run`, in the main process)

let running: { embedded?: EmbeddedDatabase; postgres?: PostgresCluster | null; tempDir?: string } = {};

/**
 * Starts both databases, migrated, and provides them as `inject("databases")`. Set
 * HEARTH_TEST_WITHOUT_POSTGRES=1 to run without PostgreSQL binaries (postgres tests then fail
 * with the reason); otherwise their absence is an error.
 */
export async function setupDatabases(project: TestProject): Promise<void> {
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-testdb-"));
  running.tempDir = tempDir;
  const [embedded, postgres] = await Promise.all([startSharedEmbedded(tempDir), startSharedPostgres()]);
  project.provide("databases", { embedded, postgres });
}

export async function teardownDatabases(): Promise<void> {
  const { embedded, postgres, tempDir } = running;
  running = {};
  await Promise.allSettled([embedded?.stop(), postgres?.stop()]);
  if (tempDir) fs.rmSync(tempDir, { recursive: true, force: true });
}

/** Usable directly as a vitest `globalSetup` module's default export. */
export default async function globalSetup(project: TestProject) {
  await setupDatabases(project);
  return teardownDatabases;
}

async function startSharedEmbedded(tempDir: string): Promise<ProvidedDatabases["embedded"]> {
  // First open of a directory runs initdb (about 10 s): do it once, keep the result as a template.
  const blankTemplateDir = path.join(tempDir, "blank-template");
  await (await startEmbeddedDatabase({ dataDir: blankTemplateDir })).stop();
  const sharedDir = path.join(tempDir, "shared");
  fs.cpSync(blankTemplateDir, sharedDir, { recursive: true });
  running.embedded = await startEmbeddedDatabase({ dataDir: sharedDir, maxConnections: 50 });
  await applyMigrations(running.embedded.url);
  // The shared database, migrated and idle, copied once: test files that need a database of their own copy it.
  const migratedTemplateDir = path.join(tempDir, "migrated-template");
  await running.embedded.stop();
  fs.cpSync(sharedDir, migratedTemplateDir, { recursive: true });
  running.embedded = await startEmbeddedDatabase({ dataDir: sharedDir, maxConnections: 50 });
  return { url: running.embedded.url, blankTemplateDir, migratedTemplateDir };
}

async function startSharedPostgres(): Promise<ProvidedDatabases["postgres"]> {
  const cluster = await startPostgresCluster();
  if (!cluster) {
    const binaries = findPostgresBinaries();
    const reason = "unavailable" in binaries ? binaries.unavailable : "PostgreSQL did not start";
    if (process.env.HEARTH_TEST_WITHOUT_POSTGRES === "1") return { unavailable: reason };
    throw new Error(`${reason} (or set HEARTH_TEST_WITHOUT_POSTGRES=1 to test the embedded database only)`);
  }
  running.postgres = cluster;
  const url = await createDatabase(cluster.url, "hearth_test");
  await applyMigrations(url);
  const template = "hearth_test_template";
  await withClient(cluster.url, (c) => c.query(`CREATE DATABASE "${template}" TEMPLATE "hearth_test"`));
  return { url, adminUrl: cluster.url, template, version: cluster.version };
}

// ---------------------------------------------------------------------------------------------
// In test files

export interface TestDatabase {
  kind: TestDatabaseKind;
  url: string;
  /** A Prisma client of its own over @prisma/adapter-pg. */
  db: PrismaClient;
  close(): Promise<void>;
}

/**
 * The shared, migrated database of this kind, with a Prisma client of the test file's own.
 * `own`: a migrated database of the file's own instead (a copy of the migrated template, dropped on
 * close), for files that start background workers: the server's eval-run worker claims any queued
 * run in its database, and another file's worker (its own data directory, its own server key) must
 * not take this file's runs.
 */
export async function openTestDatabase(kind: TestDatabaseKind, options: { own?: boolean } = {}): Promise<TestDatabase> {
  if (options.own) {
    const own = await copiedDatabase(kind, "migrated");
    const db = createPrismaClient(own.url);
    return { kind, url: own.url, db, close: () => db.$disconnect().finally(() => own.drop()) };
  }
  const url = testDatabaseUrl(kind);
  const db = createPrismaClient(url);
  return { kind, url, db, close: () => db.$disconnect() };
}

/** The URL of the shared, migrated database of this kind. */
export function testDatabaseUrl(kind: TestDatabaseKind): string {
  const provided = inject("databases");
  if (kind === "embedded") return provided.embedded.url;
  if ("unavailable" in provided.postgres) throw new Error(provided.postgres.unavailable);
  return provided.postgres.url;
}

export interface BlankDatabase {
  kind: TestDatabaseKind;
  /** An empty database: no tables, no `_prisma_migrations`. */
  url: string;
  /** Drops (postgres) or closes and deletes (embedded) the database. */
  drop(): Promise<void>;
}

/**
 * A database of the test's own with nothing in it, for tests of migrations. Embedded ones are a
 * PGlite in this test process, copied from the initialized template (about 1 s instead of 10).
 */
export async function createBlankDatabase(kind: TestDatabaseKind): Promise<BlankDatabase> {
  return copiedDatabase(kind, "blank");
}

/** A copy of the blank (initialized) or the migrated template, as a PGlite in this process or a PostgreSQL database. */
async function copiedDatabase(kind: TestDatabaseKind, from: "blank" | "migrated"): Promise<BlankDatabase> {
  const provided = inject("databases");
  if (kind === "embedded") {
    const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `hearth-${from}db-`)), "pglite");
    fs.cpSync(from === "blank" ? provided.embedded.blankTemplateDir : provided.embedded.migratedTemplateDir, dataDir, { recursive: true });
    const embedded = await startEmbeddedDatabase({ dataDir, maxConnections: 20 });
    return {
      kind,
      url: embedded.url,
      async drop() {
        await embedded.stop();
        fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
      },
    };
  }
  if ("unavailable" in provided.postgres) throw new Error(provided.postgres.unavailable);
  const { adminUrl, template } = provided.postgres;
  const name = `hearth_${from}_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  // Two files copying the template at the same moment: PostgreSQL refuses the second while the first copies.
  for (let attempt = 1; ; attempt++) {
    try {
      await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"${from === "migrated" ? ` TEMPLATE "${template}"` : ""}`));
      break;
    } catch (error) {
      if (attempt >= 20 || !/being accessed by other users/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    url: url.toString(),
    drop: () => withClient(adminUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => {}),
  };
}

/**
 * A new temp directory holding an initialized, empty PGlite data directory (copied from the run's
 * template): pass it to startEmbeddedDatabase. Delete `path.dirname()` of it when done.
 */
export function blankEmbeddedDataDir(): string {
  const dataDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-blankdb-")), "pglite");
  fs.cpSync(inject("databases").embedded.blankTemplateDir, dataDir, { recursive: true });
  return dataDir;
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  await withClient(adminUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
