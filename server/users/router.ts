import { z } from "zod";
import { router } from "@/server/trpc/init";
import { authedProcedure, publicProcedure } from "@/server/trpc/procedures";
import { signUp } from "./service";

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
  me: authedProcedure.query(({ ctx }) =>
    ctx.actor.type === "user"
      ? { type: "user" as const, id: ctx.actor.userId, email: ctx.actor.email, name: ctx.actor.name }
      : { type: "apiKey" as const, id: ctx.actor.keyId, orgId: ctx.actor.orgId, projectId: ctx.actor.projectId ?? null, label: ctx.actor.label, scopes: ctx.actor.scopes },
  ),
});
