// Process-wide database settings, one object per process (see processSingleton) rather than module
// scope: Next bundles route handlers separately from the custom server, so module-level variables
// would give each bundle its own unconfigured copy.
import type { PrismaClient } from "./generated/client";
import { processSingleton } from "../lib/process-singleton";

export interface DbState {
  url?: string;
  client?: PrismaClient;
  /** Absolute path of prisma/migrations, recorded at start (bundled code cannot locate it). */
  migrationsDir?: string;
}

export function dbState(): DbState {
  return processSingleton<DbState>("hearth.db", () => ({}));
}
