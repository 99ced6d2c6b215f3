import { z } from "zod";
import { router } from "@/server/trpc/init";
import { idSchema, userProcedure } from "@/server/trpc/procedures";
import { listNotifications, markNotificationsRead } from "./service";

// A person's own notifications: the guard is being signed in as that person; the service never reads
// or changes anyone else's.
export const notificationRouter = router({
  list: userProcedure
    .input(z.object({ unreadOnly: z.boolean().default(false), cursor: idSchema.optional(), limit: z.number().int().min(1).max(100).default(30) }).default({ unreadOnly: false, limit: 30 }))
    .query(({ ctx, input }) => listNotifications(ctx.db, ctx.user.userId, input)),
  markRead: userProcedure
    .input(z.union([z.object({ ids: z.array(idSchema).min(1).max(200) }), z.object({ all: z.literal(true) })]))
    .mutation(({ ctx, input }) => markNotificationsRead(ctx.db, ctx.user, input)),
});
