// The guarded procedures: each declares its access level, role and scope in one line; the checks
// themselves live in server/auth/access.ts, shared with the plain routes.
import { z } from "zod";
import { baseProcedure } from "./init";
import type { ApiScope, RoleName } from "@/contracts/roles";
import { authorizeInOrg, authorizeProject, authorizeResource, deny, type ResourceKind } from "@/server/auth/access";

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

export function orgProcedure(role: RoleName, scope: ApiScope | null) {
  return baseProcedure
    .meta({ access: { level: "org", role, scope } })
    .input(z.object({ orgId: idSchema }))
    .use(async ({ ctx, input, next }) => {
      const grant = await authorizeInOrg(ctx, input.orgId, null, role, scope, "Organization not found.");
      return next({ ctx: { ...ctx, actor: ctx.actor!, orgId: input.orgId, role: grant.role } });
    });
}

export function projectProcedure(role: RoleName, scope: ApiScope | null) {
  return baseProcedure
    .meta({ access: { level: "project", role, scope } })
    .input(z.object({ projectId: idSchema }))
    .use(async ({ ctx, input, next }) => {
      const grant = await authorizeProject(ctx, input.projectId, role, scope);
      return next({ ctx: { ...ctx, actor: ctx.actor!, orgId: grant.orgId, projectId: input.projectId, role: grant.role } });
    });
}

/** A procedure on one resource inside a project, named by `<kind>Id` in the input. */
export function resourceProcedure<K extends ResourceKind>(kind: K, role: RoleName, scope: ApiScope | null) {
  const field = `${kind}Id` as const;
  return baseProcedure
    .meta({ access: { level: "project", role, scope } })
    .input(z.object({ [field]: idSchema } as Record<`${K}Id`, typeof idSchema>))
    .use(async ({ ctx, input, next }) => {
      const access = await authorizeResource(ctx, kind, (input as Record<string, string>)[field], role, scope);
      return next({ ctx: { ...ctx, actor: ctx.actor!, ...access } });
    });
}
