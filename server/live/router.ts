import { z } from "zod";
import { tracked } from "@trpc/server";
import { router } from "@/server/trpc/init";
import { idSchema, userProcedure } from "@/server/trpc/procedures";
import { authorizeProject } from "@/server/auth/access";
import { notificationsChannel, type NotificationEvent } from "@/server/notifications/events";
import { runStatusChannel, type RunStatusEvent } from "@/server/runs/events";
import { liveBus } from "./bus";

export const liveRouter = router({
  /**
   * The browser's one live feed per tab (server-sent events): the person's new notifications and, on a
   * project's pages, the project's runs as they are created or change status, made by any instance. One
   * connection for both, since a browser holds few at once per site over HTTP/1.1.
   */
  watch: userProcedure
    .input(z.object({ projectId: idSchema.nullish(), lastEventId: z.string().max(20).nullish() }).default({}))
    .subscription(async function* ({ ctx, input, signal }) {
      const channels = [notificationsChannel(ctx.user.userId)];
      if (input.projectId) {
        await authorizeProject(ctx, input.projectId, "VIEWER", "runs:read");
        channels.push(runStatusChannel(input.projectId));
      }
      for await (const message of liveBus(ctx.db).stream<NotificationEvent | RunStatusEvent>(channels, signal, input.lastEventId)) yield tracked(message.id, message.payload);
    }),
});
