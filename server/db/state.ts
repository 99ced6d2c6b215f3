// Process-wide database settings, kept on globalThis rather than in module scope: Next bundles
// route handlers separately from the custom server, so module-level variables would give each
// bundle its own unconfigured copy.
import type { PrismaClient } from "./generated/client";

export interface DbState {
  url?: string;
  client?: PrismaClient;
  /** Absolute path of prisma/migrations, recorded at start (bundled code cannot locate it). */
  migrationsDir?: string;
}

const HEARTH_DB = Symbol.for("hearth.db");

export function dbState(): DbState {
  const g = globalThis as unknown as Record<symbol, DbState | undefined>;
  return (g[HEARTH_DB] ??= {});
}
