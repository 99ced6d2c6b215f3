import { z } from "zod";
import { router } from "@/server/trpc/init";
import { authedProcedure, orgProcedure, userProcedure } from "@/server/trpc/procedures";
import { createOrganization, renameOrganization } from "./service";

const orgName = z.string().trim().min(1, "is required").max(80, "must be at most 80 characters");

export const orgRouter = router({
  /** The organizations the caller belongs to (an API key sees its own). */
  list: authedProcedure.query(async ({ ctx }) => {
    if (ctx.actor.type === "apiKey") {
      const org = await ctx.db.organization.findUnique({ where: { id: ctx.actor.orgId }, select: { id: true, name: true, slug: true } });
      return org ? [{ ...org, role: null, projectCount: 0 }] : [];
    }
    const memberships = await ctx.db.membership.findMany({
      where: { userId: ctx.actor.userId },
      select: { role: true, org: { select: { id: true, name: true, slug: true, _count: { select: { projects: true } } } } },
      orderBy: { org: { name: "asc" } },
    });
    return memberships.map((m) => ({ id: m.org.id, name: m.org.name, slug: m.org.slug, role: m.role, projectCount: m.org._count.projects }));
  }),
  get: orgProcedure("VIEWER", "projects:read").query(async ({ ctx }) => {
    const org = await ctx.db.organization.findUniqueOrThrow({ where: { id: ctx.orgId }, select: { id: true, name: true, slug: true, createdAt: true } });
    return { ...org, role: ctx.role };
  }),
  create: userProcedure
    .input(z.object({ name: orgName }))
    .mutation(({ ctx, input }) => createOrganization(ctx.db, ctx.user, input.name)),
  rename: orgProcedure("ADMIN", null)
    .input(z.object({ name: orgName }))
    .mutation(({ ctx, input }) => renameOrganization(ctx.db, ctx.actor, ctx.orgId, input.name)),
});
