// prisma/schema.prisma and prisma/migrations must agree: a schema change without a migration fails CI.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createMigration } from "@/scripts/create-migration";
import { DEFAULT_MIGRATIONS_DIR, readMigrationsDir } from "@/server/db/migrations-dir";

const root = path.resolve(import.meta.dirname, "../..");
const schemaPath = path.join(root, "prisma/schema.prisma");

describe("schema drift", () => {
  it("finds no change between prisma/schema.prisma and the committed migrations", () => {
    const result = spawnSync(process.execPath, [path.join(root, "node_modules/tsx/dist/cli.mjs"), "scripts/create-migration.ts", "--check"], {
      cwd: root,
      encoding: "utf8",
    });
    expect(result.stderr).toBe("");
    expect(result.stdout).toContain("no changes");
    expect(result.status).toBe(0);
  });

  it("writes a migration for a schema change, after which the check passes", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-drift-"));
    const migrationsDir = path.join(dir, "migrations");
    fs.cpSync(DEFAULT_MIGRATIONS_DIR, migrationsDir, { recursive: true });
    const changedSchema = path.join(dir, "schema.prisma");
    fs.writeFileSync(
      changedSchema,
      fs.readFileSync(schemaPath, "utf8") + `\nmodel Note {\n  id   String @id\n  body String\n}\n`,
    );

    const check = await createMigration({ name: "check", schemaPath: changedSchema, migrationsDir, dryRun: true });
    expect(check.createdPath).toBeNull();
    expect(check.sql).toContain(`CREATE TABLE "Note"`);

    const created = await createMigration({ name: "Add notes", schemaPath: changedSchema, migrationsDir });
    expect(path.basename(created.createdPath!)).toMatch(/^\d{14}_add_notes$/);
    expect(readMigrationsDir(migrationsDir).migrations.map((m) => m.name).at(-1)).toBe(path.basename(created.createdPath!));

    expect(await createMigration({ name: "again", schemaPath: changedSchema, migrationsDir })).toEqual({ createdPath: null, sql: "" });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
