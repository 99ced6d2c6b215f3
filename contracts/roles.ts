// Role names, their order, and API key scopes: plain data and functions with no imports, so the
// pages (app/) use the same checks as the server without pulling server code into the browser.
// Keep it free of runtime imports.
export const ROLES = ["OWNER", "ADMIN", "EDITOR", "VIEWER"] as const;
export type RoleName = (typeof ROLES)[number];

const RANK: Record<RoleName, number> = { VIEWER: 0, EDITOR: 1, ADMIN: 2, OWNER: 3 };

/** Whether `role` is `minimum` or above; no role (not a member, or not loaded yet) is below every role. */
export function roleAtLeast(role: RoleName | null | undefined, minimum: RoleName): boolean {
  return !!role && RANK[role] >= RANK[minimum];
}

/**
 * API key scopes. A key never has more than its scopes allow, and no scope grants member,
 * key or deletion management: those need a person.
 */
export const API_SCOPES = [
  "projects:read",
  "projects:write",
  "members:read",
  "audit:read",
  "policies:read",
  "policies:write",
  "suites:read",
  "suites:write",
  "datasets:read",
  "datasets:write",
  "models:read",
  "models:write",
  /** Call a project's model versions through the OpenAI-compatible API at /v1 (runs them on GPU nodes). */
  "models:invoke",
  "runs:read",
  "runs:write",
] as const;
export type ApiScope = (typeof API_SCOPES)[number];
