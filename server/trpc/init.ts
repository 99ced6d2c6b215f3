import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { ZodError } from "zod";
import { randomBytes } from "node:crypto";
import type { Context } from "./context";
import type { ApiScope, RoleName } from "@/contracts/roles";
import { DomainError } from "@/server/errors";
import { describeZod } from "@/contracts/zod";
import { requestContext } from "@/server/audit/request-context";

/** How a procedure is guarded; the authorization matrix test reads it. */
export type Access =
  | { level: "public" }
  | { level: "signedIn"; apiKeys: boolean }
  | { level: "org" | "project"; role: RoleName; scope: ApiScope | null; agentKeys?: boolean };

export interface Meta {
  access: Access;
}

export const t = initTRPC
  .context<Context>()
  .meta<Meta>()
  .create({
    transformer: superjson,
    errorFormatter({ shape, error }) {
      let message = error.message;
      let fieldErrors: Record<string, string> | undefined;
      if (error.code === "BAD_REQUEST" && error.cause instanceof ZodError) {
        ({ message, fieldErrors } = describeZod(error.cause));
      } else if (error.code === "INTERNAL_SERVER_ERROR") {
        // Internal failures are logged with an id; the client sees only the id.
        const id = randomBytes(6).toString("hex");
        console.error(`[hearth] internal error ${id}:`, error.cause ?? error);
        message = `Something went wrong on the server (error id ${id}).`;
      }
      return {
        message,
        code: shape.code,
        data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, fieldErrors },
      };
    },
  });

/** Turns domain errors thrown by services into tRPC errors at the edge. */
const translateDomainErrors = t.middleware(async ({ ctx, next }) => {
  const result = await requestContext.run({ requestId: ctx.requestId }, () => next());
  if (!result.ok && result.error.cause instanceof DomainError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: cause.code, message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
export const baseProcedure = t.procedure.use(translateDomainErrors);
export const createCallerFactory = t.createCallerFactory;
