import { z } from "zod";
import { router } from "@/server/trpc/init";
import { orgProcedure, projectProcedure } from "@/server/trpc/procedures";
import { createProject, deleteProject, projectSelect, updateProject } from "./service";

const name = z.string().trim().min(1, "is required").max(80, "must be at most 80 characters");
const description = z.string().trim().max(2000, "must be at most 2000 characters");

export const projectRouter = router({
  list: orgProcedure("VIEWER", "projects:read").query(({ ctx }) =>
    ctx.db.project.findMany({ where: { orgId: ctx.orgId }, select: projectSelect, orderBy: { name: "asc" } }),
  ),
  get: projectProcedure("VIEWER", "projects:read").query(async ({ ctx }) => {
    const project = await ctx.db.project.findUniqueOrThrow({
      where: { id: ctx.projectId },
      select: { ...projectSelect, org: { select: { id: true, name: true, slug: true } } },
    });
    return { ...project, role: ctx.role };
  }),
  create: orgProcedure("ADMIN", "projects:write")
    .input(z.object({ name, description: description.default("") }))
    .mutation(({ ctx, input }) => createProject(ctx.db, ctx.actor, { orgId: ctx.orgId, name: input.name, description: input.description })),
  update: projectProcedure("EDITOR", "projects:write")
    .input(z.object({ name: name.optional(), description: description.optional() }))
    .mutation(({ ctx, input }) => updateProject(ctx.db, ctx.actor, ctx.projectId, { name: input.name, description: input.description })),
  delete: projectProcedure("OWNER", null).mutation(({ ctx }) => deleteProject(ctx.db, ctx.actor, ctx.projectId)),
});
