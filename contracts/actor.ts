// Who is asking: a signed-in person or an API key. Shared by the server's domain code, its routers and
// the audit log; the server resolves it from a request (server/auth/resolve-actor.ts).

export type Actor =
  /** sessionId: the browser session a cookie carries (server/auth/sessions.ts); absent in tests and scripts. */
  | { type: "user"; userId: string; email: string; name: string; sessionId?: string }
  /** projectId: the one project a project key is limited to; absent for organization-wide keys. */
  /** agent: an agent's key (MCP clients): refused promotion requests and publishing on top of its scopes. */
  | { type: "apiKey"; keyId: string; orgId: string; projectId?: string; scopes: string[]; label: string; agent?: boolean };

/** How the actor is shown in the audit log and in errors: a person's email, or the key's label. */
export function actorLabel(actor: Actor): string {
  return actor.type === "user" ? actor.email : actor.label;
}

/** The id recorded as author or creator: a user's id, or an API key's. */
export function actorId(actor: Actor): string {
  return actor.type === "user" ? actor.userId : actor.keyId;
}
