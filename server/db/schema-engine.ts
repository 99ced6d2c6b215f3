// Prisma's schema engine compiled to WASM, driven through @prisma/adapter-pg, so migrations can be
// generated without the native `schema-engine` binary (which cannot be downloaded offline).
// Used by scripts/create-migration.ts; the app applies migrations with ./migrate.ts instead.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import {
  bindMigrationAwareSqlAdapterFactory,
  ColumnTypeEnum,
  type SqlDriverAdapter,
  type SqlQueryable,
} from "@prisma/driver-adapter-utils";
import type {
  MigrationList,
  SchemaEngine as SchemaEngineInstance,
} from "@prisma/schema-engine-wasm";
import { startEmbeddedDatabase } from "./embedded";
import { MIGRATION_LOCKFILE, readMigrationsDir } from "./migrations-dir";

const require = createRequire(import.meta.url);

type SchemaEngineModule = typeof import("@prisma/schema-engine-wasm");

let engineModule: SchemaEngineModule | undefined;
let lastPanicMessage: string | undefined;

/** Instantiates the WASM module by hand: its glue imports the .wasm as an ES module, which Node cannot. */
async function loadSchemaEngineModule(): Promise<SchemaEngineModule> {
  if (engineModule) return engineModule;
  // The glue reports Rust panics here before throwing; keep the message for the error we raise.
  (globalThis as { PRISMA_WASM_PANIC_REGISTRY?: unknown }).PRISMA_WASM_PANIC_REGISTRY = {
    set_message(message: string) {
      lastPanicMessage = message;
      if (process.env.HEARTH_DEBUG_SCHEMA_ENGINE) console.error("schema engine panic:", message);
    },
  };
  const glue = (await import("@prisma/schema-engine-wasm/schema_engine_bg")) as unknown as SchemaEngineModule & {
    __wbg_set_wasm(exports: WebAssembly.Exports): void;
  };
  const gluePath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const wasmPath = path.join(path.dirname(gluePath), "schema_engine_bg.wasm");
  const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, { "./schema_engine_bg.js": glue as unknown as WebAssembly.ModuleImports });
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
  engineModule = glue;
  return glue;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

// adapter-pg cannot map Postgres's internal one-byte `"char"` type (pg_constraint.contype and
// friends, which the engine's introspection reads). The client reports such columns as text so
// adapter-pg accepts them and remembers where they were; the adapter wrapper then marks those
// columns as Character, which is what the engine expects.
const charColumnsByRows = new WeakMap<unknown[], number[]>();

class CharAwareClient extends pg.Client {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override query(...args: any[]): any {
    const last = args[args.length - 1];
    if (typeof last === "function") {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      args[args.length - 1] = (error: Error | null, result: any) => last(error, result && noteCharColumns(result));
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      return (super.query as any)(...args);
    }
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const returned = (super.query as any)(...args);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    return returned && typeof returned.then === "function" ? returned.then((r: any) => noteCharColumns(r)) : returned;
  }
}

function noteCharColumns<T>(result: T): T {
  for (const r of (Array.isArray(result) ? result : [result]) as (pg.QueryResult | undefined)[]) {
    const indexes: number[] = [];
    r?.fields?.forEach((field, index) => {
      if (field.dataTypeID !== PG_CHAR_OID) return;
      field.dataTypeID = PG_TEXT_OID;
      indexes.push(index);
    });
    if (r && indexes.length) charColumnsByRows.set(r.rows, indexes);
  }
  return result;
}

function withCharColumns<Q extends SqlQueryable>(queryable: Q): Q {
  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query) => {
    const result = await queryRaw(query);
    for (const index of charColumnsByRows.get(result.rows) ?? []) result.columnTypes[index] = ColumnTypeEnum.Character;
    return result;
  };
  return queryable;
}

function poolConfig(url: string): pg.PoolConfig {
  return { connectionString: url, max: 4, Client: CharAwareClient };
}

async function connectAdapter(url: string, onDispose?: () => Promise<void>): Promise<SqlDriverAdapter> {
  const adapter = withCharColumns(await new PrismaPg(poolConfig(url)).connect());
  // adapter-pg splits scripts on every ";", which breaks function bodies in migrations. One simple-protocol
  // query runs a multi-statement script with Postgres's own parsing of quotes and dollar quotes.
  const internals = adapter as unknown as { client: pg.Pool; onError(error: unknown): never };
  adapter.executeScript = async (script: string) => {
    try {
      await internals.client.query(script);
    } catch (error) {
      internals.onError(error);
    }
  };
  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (isolationLevel) => withCharColumns(await startTransaction(isolationLevel));
  if (onDispose) {
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      try {
        await dispose();
      } finally {
        await onDispose();
      }
    };
  }
  return adapter;
}

export interface SchemaEngineSession {
  engine: SchemaEngineInstance;
  /** The migrations directory as the engine expects it. */
  migrationsList: MigrationList;
  /** The Prisma schema files as the engine expects them. */
  schema: { files: { path: string; content: string }[] };
}

/** Runs `fn` with a schema engine connected to `databaseUrl`, or to a throwaway database when omitted. */
export async function withSchemaEngine<T>(
  options: { schemaPath: string; migrationsDir: string; databaseUrl?: string; log?: (line: string) => void },
  fn: (session: SchemaEngineSession) => Promise<T>,
): Promise<T> {
  const { SchemaEngine } = await loadSchemaEngineModule();
  const schemaContent = fs.readFileSync(options.schemaPath, "utf8");
  const schema = { files: [{ path: options.schemaPath, content: schemaContent }] };
  // Without a database URL, one throwaway in-memory PGlite serves as both the main database (which
  // the engine connects to but `diff` does not touch) and the shadow database: each PGlite takes
  // seconds to start. With a URL, the shadow database is a throwaway PGlite of its own, since
  // adapter-pg's would reuse the main database when given a connection string.
  const throwaways: Promise<{ url: string; stop(): Promise<void> }>[] = [];
  const throwaway = () => {
    const started = startEmbeddedDatabase({ dataDir: null });
    throwaways.push(started);
    return started;
  };
  let sharedThrowaway: ReturnType<typeof throwaway> | undefined;
  const factory = {
    provider: "postgres" as const,
    adapterName: "@prisma/adapter-pg",
    connect: async () => connectAdapter(options.databaseUrl ?? (await (sharedThrowaway ??= throwaway())).url),
    connectToShadowDb: async () => connectAdapter((await (options.databaseUrl ? throwaway() : (sharedThrowaway ??= throwaway()))).url),
  };
  let engine: SchemaEngineInstance | undefined;
  try {
    engine = await SchemaEngine.new(
      { datamodels: [[options.schemaPath, schemaContent]] },
      (line: string) => options.log?.(line),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    return await fn({ engine, migrationsList: toMigrationList(options.migrationsDir), schema });
  } finally {
    engine?.free();
    await Promise.allSettled(throwaways.map(async (started) => (await started).stop()));
  }
}

export function toMigrationList(migrationsDir: string): MigrationList {
  const { baseDir, lockfile, migrations } = readMigrationsDir(migrationsDir);
  return {
    baseDir,
    // An empty directory has no lockfile yet; the engine needs one to know the provider.
    lockfile: { path: "migration_lock.toml", content: lockfile ?? MIGRATION_LOCKFILE },
    shadowDbInitScript: "",
    migrationDirectories: migrations.map((m) => ({
      path: m.name,
      migrationFile: { path: "migration.sql", content: { tag: "ok", value: m.sql } },
    })),
  };
}
