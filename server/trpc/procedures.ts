// The guarded procedures: each declares its access level, role and scope in one line; the checks
// themselves live in server/auth/access.ts, shared with the plain routes.
import { z } from "zod";
import { baseProcedure } from "./init";
import type { ApiScope, RoleName } from "@/contracts/roles";
import { AccessDenied, authorizeInOrg, authorizeProject, authorizeResource, deny, type ResourceKind } from "@/server/auth/access";
import { auditAgentRefusal } from "@/server/audit/service";
import type { Actor } from "@/contracts/actor";
import type { Context } from "./context";

export { AccessDenied, authorizeResource, type ResourceKind } from "@/server/auth/access";

import { idSchema } from "@/contracts/zod";

export { idSchema } from "@/contracts/zod";

export const publicProcedure = baseProcedure.meta({ access: { level: "public" } });

/** A signed-in person (not an API key): creating organizations, accepting invites. */
export const userProcedure = baseProcedure
  .meta({ access: { level: "signedIn", apiKeys: false } })
  .use(({ ctx, next }) => {
    if (!ctx.actor) deny("UNAUTHORIZED", "Sign in to continue.");
    if (ctx.actor.type !== "user") deny("FORBIDDEN", "API keys cannot do this; sign in as a person.");
    return next({ ctx: { ...ctx, actor: ctx.actor, user: ctx.actor } });
  });

/** Anyone authenticated, person or API key. */
export const authedProcedure = baseProcedure
  .meta({ access: { level: "signedIn", apiKeys: true } })
  .use(({ ctx, next }) => {
    if (!ctx.actor) deny("UNAUTHORIZED", "Sign in or send an API key to continue.");
    return next({ ctx: { ...ctx, actor: ctx.actor } });
  });

/** Options of a guarded procedure beyond its role and scope. */
export interface GuardOptions {
  /** false: agents' keys (ApiKey.agent) are refused even with the scope (requesting promotions, publishing). */
  agentKeys?: boolean;
}

/**
 * Runs a guard's check; a refusal of an agent's key is audited (agent.refused) before it is thrown,
 * so whoever reviews an agent sees what it tried and was not allowed to do.
 */
async function guarded<T>(ctx: Context, path: string, options: GuardOptions, check: () => Promise<T>): Promise<T> {
  try {
    const granted = await check();
    if (options.agentKeys === false && isAgentKey(ctx.actor)) deny("FORBIDDEN", "Agents' keys cannot do this; a person does it in Hearth.");
    return granted;
  } catch (error) {
    if (error instanceof AccessDenied && isAgentKey(ctx.actor)) await auditAgentRefusal(ctx.db, ctx.actor, path, error.message);
    throw error;
  }
}

function isAgentKey(actor: Actor | null): actor is Extract<Actor, { type: "apiKey" }> {
  return actor?.type === "apiKey" && actor.agent === true;
}

export function orgProcedure(role: RoleName, scope: ApiScope | null, options: GuardOptions = {}) {
  return baseProcedure
    .meta({ access: { level: "org", role, scope, ...options } })
    .input(z.object({ orgId: idSchema }))
    .use(async ({ ctx, input, next, path }) => {
      const grant = await guarded(ctx, path, options, () => authorizeInOrg(ctx, input.orgId, null, role, scope, "Organization not found."));
      return next({ ctx: { ...ctx, actor: ctx.actor!, orgId: input.orgId, role: grant.role } });
    });
}

export function projectProcedure(role: RoleName, scope: ApiScope | null, options: GuardOptions = {}) {
  return baseProcedure
    .meta({ access: { level: "project", role, scope, ...options } })
    .input(z.object({ projectId: idSchema }))
    .use(async ({ ctx, input, next, path }) => {
      const grant = await guarded(ctx, path, options, () => authorizeProject(ctx, input.projectId, role, scope));
      return next({ ctx: { ...ctx, actor: ctx.actor!, orgId: grant.orgId, projectId: input.projectId, role: grant.role } });
    });
}

/** A procedure on one resource inside a project, named by `<kind>Id` in the input. */
export function resourceProcedure<K extends ResourceKind>(kind: K, role: RoleName, scope: ApiScope | null, options: GuardOptions = {}) {
  const field = `${kind}Id` as const;
  return baseProcedure
    .meta({ access: { level: "project", role, scope, ...options } })
    .input(z.object({ [field]: idSchema } as Record<`${K}Id`, typeof idSchema>))
    .use(async ({ ctx, input, next, path }) => {
      const access = await guarded(ctx, path, options, () => authorizeResource(ctx, kind, (input as Record<string, string>)[field], role, scope));
      return next({ ctx: { ...ctx, actor: ctx.actor!, ...access } });
    });
}
