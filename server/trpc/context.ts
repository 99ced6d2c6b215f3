import { randomUUID } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import { getDb } from "@/server/db/client";
import type { Actor } from "@/contracts/actor";
import { resolveActor } from "@/server/auth/resolve-actor";

export interface Context {
  db: PrismaClient;
  actor: Actor | null;
  requestId: string;
}

export async function createContext({ headers }: { headers: Headers }): Promise<Context> {
  const db = getDb();
  return { db, actor: await resolveActor(db, headers), requestId: randomUUID() };
}
