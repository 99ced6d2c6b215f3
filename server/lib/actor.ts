import type { Actor } from "@/server/trpc/context";

/** The id recorded as author or creator: a user's id, or an API key's. */
export function actorId(actor: Actor): string {
  return actor.type === "user" ? actor.userId : actor.keyId;
}
