// The Prisma client over @prisma/adapter-pg, and the one process-wide instance the app uses.
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client";
import { dbState } from "./state";

export { PrismaClient };
export { Prisma } from "./generated/client";

export function createPrismaClient(databaseUrl: string): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString: databaseUrl }) });
}

/**
 * Sets the database the app talks to. Called once by server/main.ts at start, before Next
 * handles requests. Setting a different URL closes the previous client.
 */
export function setDatabaseUrl(databaseUrl: string): void {
  const state = dbState();
  if (state.url === databaseUrl) return;
  const previous = state.client;
  state.url = databaseUrl;
  state.client = undefined;
  void previous?.$disconnect();
}

/** The URL of the app's database (given to setDatabaseUrl, else DATABASE_URL), or undefined. */
export function getDatabaseUrl(): string | undefined {
  return dbState().url ?? (process.env.DATABASE_URL || undefined);
}

/** The process-wide Prisma client; created on first use from the URL given to setDatabaseUrl. */
export function getDb(): PrismaClient {
  const state = dbState();
  if (state.client) return state.client;
  const url = state.url ?? process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "The database is not configured: server/main.ts must call setDatabaseUrl() (or startDatabase()) " +
        "before handling requests, or DATABASE_URL must be set.",
    );
  }
  state.url = url;
  state.client = createPrismaClient(url);
  return state.client;
}

/** Disconnects the process-wide client (for shutdown and tests). */
export async function closeDb(): Promise<void> {
  const state = dbState();
  const client = state.client;
  state.client = undefined;
  await client?.$disconnect();
}
