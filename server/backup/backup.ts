// Backup and restore of a whole workspace: every row of every table (PostgreSQL or the embedded
// database, read in one snapshot) and every stored artifact that a row refers to, in one tar archive
// with a manifest of sha256 hashes. No key goes into the archive: the session secret and
// HEARTH_SECRET_KEY stay with the operator; secrets encrypted under a key (endpoint API keys) travel
// encrypted, and a restore under another key lists the ones it cannot read.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import pg from "pg";
import type { ArtifactStore } from "@/server/storage/artifact-store";
import { decryptSecret, endpointKeyContext } from "@/server/endpoints/crypto";
import { readTarEntries, TarWriter } from "./tar";

export const BACKUP_FORMAT = 1;

/** Columns that hold the content address of a file in the artifact store. */
const ARTIFACT_COLUMNS: ReadonlyArray<readonly [table: string, column: string]> = [
  ["DatasetVersion", "sha256"],
  ["ModelVersion", "artifactSha256"],
  ["RunCheckpoint", "sha256"],
  ["ModelVersionFile", "sha256"],
];

/** AppSetting rows that are keys: never archived (the restored instance makes or is given its own). */
const SECRET_SETTINGS = ["nextauth_secret"];

const FETCH_ROWS = 2_000;
const INSERT_ROWS = 1_000;

export interface BackupManifest {
  format: number;
  createdAt: string;
  /** The database migrations applied when the backup was made; a restore needs the same. */
  migrations: string[];
  tables: Array<{ name: string; rows: number; file: string; sha256: string; bytes: number }>;
  artifacts: Array<{ sha256: string; bytes: number; file: string }>;
  /** What was deliberately left out, in words. */
  excluded: string[];
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupError";
  }
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

async function appliedMigrations(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ migration_name: string }>(
    `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name`,
  );
  return rows.map((r) => r.migration_name);
}

async function tableNames(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> '_prisma_migrations' ORDER BY tablename`,
  );
  return rows.map((r) => r.tablename);
}

async function primaryKey(client: pg.ClientBase, table: string): Promise<string[]> {
  const { rows } = await client.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
     WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    [ident(table)],
  );
  return rows.map((r) => r.attname);
}

export interface BackupResult {
  manifest: BackupManifest;
  path: string;
  bytes: number;
}

/**
 * Writes the workspace into a new archive at `outPath` (refused if it exists). Rows are read in one
 * read-only, repeatable-read transaction, so the archive is one consistent moment of the database.
 */
export async function backupWorkspace(opts: { databaseUrl: string; store: ArtifactStore; outPath: string; onProgress?: (line: string) => void }): Promise<BackupResult> {
  const log = opts.onProgress ?? (() => {});
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "hearth-backup-"));
  let tar: TarWriter | null = null;
  try {
    tar = await TarWriter.create(opts.outPath).catch((e: NodeJS.ErrnoException) => {
      throw new BackupError(e.code === "EEXIST" ? `${opts.outPath} already exists; choose another file.` : `Cannot write ${opts.outPath}: ${e.message}`);
    });
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const manifest: BackupManifest = {
      format: BACKUP_FORMAT,
      createdAt: new Date().toISOString(),
      migrations: await appliedMigrations(client),
      tables: [],
      artifacts: [],
      excluded: [`AppSetting rows ${SECRET_SETTINGS.join(", ")} (keys stay with the operator)`, "HEARTH_SECRET_KEY and the key file (secrets stay encrypted)"],
    };
    for (const table of await tableNames(client)) {
      const order = (await primaryKey(client, table)).map(ident).join(", ");
      const where = table === "AppSetting" ? `WHERE t.key <> ALL($1::text[])` : "";
      const file = path.join(tmp, `${table}.jsonl`);
      const out = fs.createWriteStream(file);
      const hash = createHash("sha256");
      let rows = 0;
      let bytes = 0;
      await client.query(`DECLARE rows_cursor NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS row FROM ${ident(table)} t ${where} ${order ? `ORDER BY ${order}` : ""}`, where ? [SECRET_SETTINGS] : []);
      for (;;) {
        const { rows: page } = await client.query<{ row: string }>(`FETCH ${FETCH_ROWS} FROM rows_cursor`);
        if (!page.length) break;
        const chunk = Buffer.from(page.map((r) => r.row).join("\n") + "\n", "utf8");
        hash.update(chunk);
        bytes += chunk.length;
        rows += page.length;
        if (!out.write(chunk)) await new Promise<void>((r) => out.once("drain", () => r()));
      }
      await client.query("CLOSE rows_cursor");
      await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
      const name = `db/${table}.jsonl`;
      await tar.add(name, bytes, fs.createReadStream(file));
      await fsp.rm(file);
      manifest.tables.push({ name: table, rows, file: name, sha256: hash.digest("hex"), bytes });
      log(`table ${table}: ${rows} rows`);
    }
    const hashes = new Set<string>();
    for (const [table, column] of ARTIFACT_COLUMNS) {
      const { rows } = await client.query<{ sha: string }>(`SELECT DISTINCT ${ident(column)} AS sha FROM ${ident(table)} WHERE ${ident(column)} IS NOT NULL`);
      for (const r of rows) hashes.add(r.sha);
    }
    await client.query("COMMIT");
    for (const sha256 of [...hashes].sort()) {
      if (!(await opts.store.has(sha256))) throw new BackupError(`Artifact ${sha256} is referenced by the database but missing from the artifact store; nothing was archived.`);
      // Copy to a temp file first: the tar header needs the size, and the copy is hashed on the way.
      const file = path.join(tmp, sha256);
      const hash = createHash("sha256");
      let bytes = 0;
      await pipeline(await opts.store.open(sha256), async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          bytes += chunk.length;
          yield chunk;
        }
      }, fs.createWriteStream(file));
      if (hash.digest("hex") !== sha256) throw new BackupError(`Artifact ${sha256} in the store does not match its hash; the store is damaged.`);
      const name = `artifacts/${sha256}`;
      await tar.add(name, bytes, fs.createReadStream(file));
      await fsp.rm(file);
      manifest.artifacts.push({ sha256, bytes, file: name });
      log(`artifact ${sha256.slice(0, 12)}…: ${bytes} bytes`);
    }
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + "\n");
    await tar.add("manifest.json", manifestBytes.length, manifestBytes);
    await tar.finish();
    const { size } = await fsp.stat(opts.outPath);
    return { manifest, path: opts.outPath, bytes: size };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    if (tar) {
      await tar.abort();
      await fsp.rm(opts.outPath, { force: true });
    }
    throw error;
  } finally {
    await client.end().catch(() => {});
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

async function foreignKeys(client: pg.ClientBase): Promise<Array<{ table: string; column: string; refTable: string; refColumn: string }>> {
  const { rows } = await client.query<{ tbl: string; col: string; reftbl: string; refcol: string }>(
    `SELECT c.conrelid::regclass::text AS tbl, a.attname AS col, c.confrelid::regclass::text AS reftbl, ra.attname AS refcol
     FROM pg_constraint c
     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
     JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
     WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace`,
  );
  const unquote = (s: string) => s.replace(/^"(.*)"$/, "$1");
  return rows.map((r) => ({ table: unquote(r.tbl), column: r.col, refTable: unquote(r.reftbl), refColumn: r.refcol }));
}

/** Tables ordered so that every table comes after the tables it refers to. */
function insertionOrder(tables: string[], fks: Array<{ table: string; refTable: string }>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (t: string) => {
    if (state.get(t) === "done" || state.get(t) === "visiting") return;
    state.set(t, "visiting");
    for (const fk of fks) if (fk.table === t && fk.refTable !== t) visit(fk.refTable);
    state.set(t, "done");
    if (tables.includes(t)) order.push(t);
  };
  for (const t of tables) visit(t);
  return order;
}

/** Rows of a table that refers to itself (a model version's parent), parents first. */
function parentsFirst(lines: string[], column: string, refColumn: string): string[] {
  const rows = lines.map((line) => ({ line, row: JSON.parse(line) as Record<string, unknown> }));
  const byKey = new Map(rows.map((r) => [String(r.row[refColumn]), r]));
  const out: string[] = [];
  const placed = new Set<unknown>();
  const place = (r: (typeof rows)[number], depth = 0) => {
    if (placed.has(r) || depth > rows.length) return;
    const parent = r.row[column] == null ? undefined : byKey.get(String(r.row[column]));
    if (parent && parent !== r) place(parent, depth + 1);
    placed.add(r);
    out.push(r.line);
  };
  for (const r of rows) place(r);
  return out;
}

export interface RestoreResult {
  manifest: BackupManifest;
  rows: number;
  artifacts: number;
  /** Endpoints whose stored API key cannot be read under this instance's HEARTH_SECRET_KEY. */
  unreadableSecrets: Array<{ endpointId: string; name: string }>;
}

/**
 * Restores an archive into a database that has the same migrations applied and holds no rows, and
 * into the artifact store. Everything is checked against the manifest first; the rows go in one
 * transaction, so a failure leaves the database as empty as it was.
 */
export async function restoreWorkspace(opts: { databaseUrl: string; store: ArtifactStore; archivePath: string; onProgress?: (line: string) => void }): Promise<RestoreResult> {
  const log = opts.onProgress ?? (() => {});
  const entries = await readTarEntries(opts.archivePath).catch((e: Error) => {
    throw new BackupError(`Cannot read ${opts.archivePath}: ${e.message}`);
  });
  const byName = new Map(entries.map((e) => [e.name, e]));
  const manifestEntry = byName.get("manifest.json");
  if (!manifestEntry) throw new BackupError(`${opts.archivePath} has no manifest.json: it is not a Hearth backup, or it was cut short.`);
  const manifest = JSON.parse((await manifestEntry.read()).toString("utf8")) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT) throw new BackupError(`This backup has format ${manifest.format}; this Hearth reads format ${BACKUP_FORMAT}.`);

  // Verify every file against the manifest before touching anything.
  const tableData = new Map<string, Buffer>();
  for (const t of manifest.tables) {
    const entry = byName.get(t.file);
    if (!entry) throw new BackupError(`The backup lacks ${t.file}, listed in its manifest.`);
    const data = await entry.read();
    if (createHash("sha256").update(data).digest("hex") !== t.sha256) throw new BackupError(`${t.file} in the backup does not match its manifest hash: the archive is damaged.`);
    tableData.set(t.name, data);
  }
  for (const a of manifest.artifacts) if (!byName.has(a.file)) throw new BackupError(`The backup lacks ${a.file}, listed in its manifest.`);

  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  try {
    const migrations = await appliedMigrations(client).catch(() => {
      throw new BackupError("The target database has no migrations applied: start Hearth on it once (or run `npm run db:migrate`), then restore.");
    });
    if (migrations.join("\n") !== manifest.migrations.join("\n")) {
      const missing = manifest.migrations.filter((m) => !migrations.includes(m));
      const extra = migrations.filter((m) => !manifest.migrations.includes(m));
      throw new BackupError(
        `The backup was made at another database version: ${missing.length ? `the target lacks ${missing.join(", ")}` : ""}${missing.length && extra.length ? "; " : ""}${extra.length ? `the target has ${extra.join(", ")} that the backup does not` : ""}. Restore with the Hearth version that made it, then upgrade.`,
      );
    }
    const tables = await tableNames(client);
    const unknown = manifest.tables.map((t) => t.name).filter((t) => !tables.includes(t));
    if (unknown.length) throw new BackupError(`The backup holds tables the target lacks: ${unknown.join(", ")}.`);
    for (const table of tables) {
      const filter = table === "AppSetting" ? ` WHERE key <> ALL($1::text[])` : "";
      const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${ident(table)}${filter}`, filter ? [SECRET_SETTINGS] : []);
      if (rows[0].n !== "0") throw new BackupError(`The target database is not empty (${table} has ${rows[0].n} rows). Restore into a new database or an empty data folder.`);
    }

    const fks = await foreignKeys(client);
    let restoredRows = 0;
    await client.query("BEGIN");
    // Derived tables (dashboard stats) are kept by triggers; the archive holds their rows as they
    // were, so the triggers stay off while rows go in (DDL is transactional: a failure restores them).
    const { rows: triggered } = await client.query<{ tbl: string }>(
      `SELECT DISTINCT c.relname AS tbl FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace`,
    );
    for (const t of triggered) await client.query(`ALTER TABLE ${ident(t.tbl)} DISABLE TRIGGER USER`);
    for (const table of insertionOrder(manifest.tables.map((t) => t.name), fks)) {
      const text = tableData.get(table)!.toString("utf8");
      let lines = text.split("\n").filter((l) => l.length > 0);
      const self = fks.find((fk) => fk.table === table && fk.refTable === table);
      if (self) lines = parentsFirst(lines, self.column, self.refColumn);
      // Transaction ids (CollabUpdate.xid, for pollers) belong to the cluster that wrote them: the
      // restored rows take this cluster's, from the column default.
      const { rows: cols } = await client.query<{ column_name: string }>(
        `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
           AND COALESCE(column_default, '') NOT LIKE '%pg_current_xact_id%' ORDER BY ordinal_position`,
        [table],
      );
      const columns = cols.map((c) => ident(c.column_name)).join(", ");
      for (let i = 0; i < lines.length; i += INSERT_ROWS) {
        // The rows go to PostgreSQL as JSON text: numbers (bigint ids) never pass through a JS double.
        const batch = `[${lines.slice(i, i + INSERT_ROWS).join(",")}]`;
        await client.query(`INSERT INTO ${ident(table)} (${columns}) SELECT ${columns} FROM json_populate_recordset(NULL::${ident(table)}, $1::json)`, [batch]);
      }
      restoredRows += lines.length;
      log(`table ${table}: ${lines.length} rows`);
    }
    // Sequences (auto-increment ids) continue after the restored rows.
    const { rows: serials } = await client.query<{ tbl: string; col: string }>(
      `SELECT table_name AS tbl, column_name AS col FROM information_schema.columns WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'`,
    );
    for (const s of serials) {
      await client.query(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT max(${ident(s.col)}) FROM ${ident(s.tbl)}), 0) + 1, false)`, [ident(s.tbl), s.col]);
    }
    for (const t of triggered) await client.query(`ALTER TABLE ${ident(t.tbl)} ENABLE TRIGGER USER`);
    await client.query("COMMIT");

    let artifacts = 0;
    const tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "hearth-restore-"));
    try {
      for (const a of manifest.artifacts) {
        if (await opts.store.has(a.sha256)) {
          artifacts++;
          continue;
        }
        const file = path.join(tmp, randomBytes(8).toString("hex"));
        const hash = createHash("sha256");
        await pipeline(byName.get(a.file)!.open(), async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            hash.update(chunk);
            yield chunk;
          }
        }, fs.createWriteStream(file));
        if (hash.digest("hex") !== a.sha256) throw new BackupError(`${a.file} in the backup does not match its hash: the archive is damaged.`);
        await opts.store.putFile(file, a.sha256);
        await fsp.rm(file, { force: true });
        artifacts++;
        log(`artifact ${a.sha256.slice(0, 12)}…`);
      }
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }

    const unreadableSecrets: RestoreResult["unreadableSecrets"] = [];
    const { rows: endpoints } = await client.query<{ id: string; name: string; keyCiphertext: string }>(`SELECT id, name, "keyCiphertext" FROM "Endpoint" WHERE "keyCiphertext" IS NOT NULL ORDER BY name`);
    for (const e of endpoints) {
      try {
        decryptSecret(e.keyCiphertext, endpointKeyContext(e.id));
      } catch {
        unreadableSecrets.push({ endpointId: e.id, name: e.name });
      }
    }
    return { manifest, rows: restoredRows, artifacts, unreadableSecrets };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  } finally {
    await client.end().catch(() => {});
  }
}
