import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { getDb } from "@/server/db/client";
import type { Actor } from "@/contracts/actor";
import { resolveActor } from "@/server/auth/resolve-actor";
import { clientAddress } from "@/server/auth/rate-limit";
import { RateLimited } from "@/server/errors";

export interface Context {
  db: PrismaClient;
  actor: Actor | null;
  requestId: string;
  /** The client's address, for limits on failed attempts (server/auth/rate-limit.ts); unknown in tests. */
  address?: string | null;
}

export async function createContext({ headers }: { headers: Headers }): Promise<Context> {
  const db = getDb();
  let actor: Actor | null;
  try {
    actor = await resolveActor(db, headers);
  } catch (error) {
    if (error instanceof RateLimited) throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: error.message, cause: error });
    throw error;
  }
  return { db, actor, requestId: randomUUID(), address: clientAddress(headers) };
}
