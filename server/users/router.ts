import { z } from "zod";
import { router } from "@/server/trpc/init";
import { authedProcedure, publicProcedure, userProcedure } from "@/server/trpc/procedures";
import { listUserSessions } from "@/server/auth/sessions";
import { changePassword, endOwnSessions, signUp } from "./service";

export const passwordSchema = z
  .string()
  .min(10, "must be at least 10 characters")
  .max(200, "must be at most 200 characters");

export const userRouter = router({
  signUp: publicProcedure
    .input(
      z.object({
        email: z.email("must be an email address").max(200),
        name: z.string().trim().min(1, "is required").max(80, "must be at most 80 characters"),
        password: passwordSchema,
      }),
    )
    .mutation(({ ctx, input }) => signUp(ctx.db, input)),
  /** The caller's signed-in browsers (the sessions page). */
  sessions: userProcedure.query(({ ctx }) => listUserSessions(ctx.db, ctx.user.userId, ctx.user.sessionId)),
  /** Ends one of the caller's sessions, or with no sessionId all of them: "sign out everywhere". */
  endSessions: userProcedure
    .input(z.object({ sessionId: z.string().min(1).max(100).optional() }))
    .mutation(({ ctx, input }) => endOwnSessions(ctx.db, ctx.user, input.sessionId ?? null)),
  /** Changes the password and ends the caller's other sessions. */
  changePassword: userProcedure
    .input(z.object({ currentPassword: z.string().min(1, "is required").max(200), newPassword: passwordSchema }))
    .mutation(({ ctx, input }) => changePassword(ctx.db, ctx.user, input, ctx.address ?? null)),
  me: authedProcedure.query(({ ctx }) =>
    ctx.actor.type === "user"
      ? { type: "user" as const, id: ctx.actor.userId, email: ctx.actor.email, name: ctx.actor.name }
      : { type: "apiKey" as const, id: ctx.actor.keyId, orgId: ctx.actor.orgId, projectId: ctx.actor.projectId ?? null, label: ctx.actor.label, scopes: ctx.actor.scopes },
  ),
});
