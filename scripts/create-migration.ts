// `npm run db:migration:create -- <name>`: writes prisma/migrations/<timestamp>_<name>/migration.sql
// from the difference between the existing migrations and prisma/schema.prisma.
// `npm run db:migration:create -- --check`: exits 1 when the schema has changes no migration captures.
// Runs Prisma's schema engine as WASM against throwaway in-memory PGlite databases: no native
// binary, no server, no network.
import fs from "node:fs";
import path from "node:path";
import { withSchemaEngine } from "../server/db/schema-engine";
import { DEFAULT_MIGRATIONS_DIR, MIGRATION_LOCKFILE } from "../server/db/migrations-dir";

export interface CreateMigrationResult {
  /** Directory of the new migration, or null when the schema and the migrations already agree. */
  createdPath: string | null;
  /** The SQL the schema needs beyond the existing migrations ("" when none). */
  sql: string;
}

export async function createMigration(options: {
  name: string;
  schemaPath?: string;
  migrationsDir?: string;
  /** Only compute the difference; write nothing. */
  dryRun?: boolean;
}): Promise<CreateMigrationResult> {
  const schemaPath = path.resolve(options.schemaPath ?? path.join(import.meta.dirname, "../prisma/schema.prisma"));
  const migrationsDir = path.resolve(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  return withSchemaEngine({ schemaPath, migrationsDir }, async ({ engine, migrationsList, schema }) => {
    // `diff` from the migrations (replayed into a throwaway shadow database) to the schema renders the
    // same SQL as `createMigration`, which in this WASM build refuses a non-empty migrations directory
    // ("shadow DB must be provided through an external factory").
    const diff = await engine.diff({
      from: { tag: "migrations", ...migrationsList },
      to: { tag: "schemaDatamodel", ...schema },
      script: true,
      exitCode: true,
      filters: { externalTables: [], externalEnums: [] },
    });
    const hasChanges = diff.exitCode === 2;
    const sql = hasChanges ? (diff.stdout ?? "") : "";
    if (!hasChanges || options.dryRun) return { createdPath: null, sql };
    const dir = path.join(migrationsDir, `${migrationTimestamp(new Date())}_${migrationNameFrom(options.name)}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "migration.sql"), sql);
    const lockPath = path.join(migrationsDir, "migration_lock.toml");
    if (!fs.existsSync(lockPath)) fs.writeFileSync(lockPath, MIGRATION_LOCKFILE);
    return { createdPath: dir, sql };
  });
}

/** UTC `YYYYMMDDHHMMSS`, the prefix Prisma gives migration folders so they sort in creation order. */
export function migrationTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** Like the Prisma CLI: lower-case words joined by underscores. */
export function migrationNameFrom(name: string): string {
  const slug = name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "");
  if (!slug) throw new Error(`"${name}" is not a usable migration name: use letters, digits and underscores.`);
  return slug.slice(0, 200);
}

async function main(argv: string[]) {
  const check = argv.includes("--check");
  const option = (flag: string) => {
    const index = argv.indexOf(flag);
    return index >= 0 ? argv.splice(index, 2)[1] : undefined;
  };
  const schemaPath = option("--schema");
  const migrationsDir = option("--migrations");
  const name = argv.find((arg) => !arg.startsWith("--"));
  if (!check && !name) {
    console.error(
      "Usage: npm run db:migration:create -- <name>   |   npm run db:migration:create -- --check\n" +
        "       [--schema prisma/schema.prisma] [--migrations prisma/migrations]",
    );
    return 2;
  }
  const result = await createMigration({ name: name ?? "check", dryRun: check, schemaPath, migrationsDir });
  if (check) {
    if (!result.sql.trim()) {
      console.log("no changes: prisma/schema.prisma agrees with prisma/migrations");
      return 0;
    }
    console.error("prisma/schema.prisma has changes that no migration captures:\n");
    console.error(result.sql);
    console.error("Create one with: npm run db:migration:create -- <name>");
    return 1;
  }
  console.log(result.createdPath ? path.relative(process.cwd(), result.createdPath) : "no changes");
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("create-migration.ts")) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
}
