import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, orgProcedure } from "@/server/trpc/procedures";
import { ROLES } from "@/contracts/roles";
import { changeMemberRole, endMemberSessions, listMembers, removeMember } from "./service";

export const memberRouter = router({
  list: orgProcedure("VIEWER", "members:read").query(({ ctx }) => listMembers(ctx.db, ctx.orgId)),
  updateRole: orgProcedure("ADMIN", null)
    .input(z.object({ membershipId: idSchema, role: z.enum(ROLES) }))
    .mutation(({ ctx, input }) => changeMemberRole(ctx.db, ctx.actor, ctx.role, ctx.orgId, input.membershipId, input.role)),
  endSessions: orgProcedure("ADMIN", null)
    .input(z.object({ membershipId: idSchema }))
    .mutation(({ ctx, input }) => endMemberSessions(ctx.db, ctx.actor, ctx.role, ctx.orgId, input.membershipId)),
  remove: orgProcedure("ADMIN", null)
    .input(z.object({ membershipId: idSchema }))
    .mutation(({ ctx, input }) => removeMember(ctx.db, ctx.actor, ctx.role, ctx.orgId, input.membershipId)),
});
