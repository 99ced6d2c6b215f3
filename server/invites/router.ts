import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, orgProcedure, publicProcedure, userProcedure } from "@/server/trpc/procedures";
import { ROLES } from "@/contracts/roles";
import { acceptInvite, createInvite, listInvites, previewInvite, revokeInvite } from "./service";

const token = z.string().trim().min(20, "is not a valid invitation token").max(200, "is not a valid invitation token");

export const inviteRouter = router({
  list: orgProcedure("ADMIN", null).query(({ ctx }) => listInvites(ctx.db, ctx.orgId)),
  create: orgProcedure("ADMIN", null)
    .input(
      z.object({
        role: z.enum(ROLES),
        email: z.email("must be an email address").optional(),
        expiresInHours: z.number().int().min(1, "must be at least 1 hour").max(24 * 30, "must be at most 30 days").default(72),
      }),
    )
    .mutation(({ ctx, input }) => createInvite(ctx.db, ctx.actor, ctx.role, { ...input, orgId: ctx.orgId })),
  revoke: orgProcedure("ADMIN", null)
    .input(z.object({ inviteId: idSchema }))
    .mutation(({ ctx, input }) => revokeInvite(ctx.db, ctx.actor, ctx.orgId, input.inviteId)),
  /** What an invitation link offers; anyone holding the link may see it. */
  preview: publicProcedure.input(z.object({ token })).query(({ ctx, input }) => previewInvite(ctx.db, input.token, ctx.address)),
  accept: userProcedure.input(z.object({ token })).mutation(({ ctx, input }) => acceptInvite(ctx.db, ctx.user, input.token, ctx.address)),
});
