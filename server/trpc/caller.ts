// Server-side calls of the guarded procedures by path, for the MCP server (server/mcp): a tool runs the
// same procedure, with the same guard, as the key would over /api/trpc. Also the procedures' declared
// access, read from their metadata, from which a tool's scopes are derived.
import { TRPCError } from "@trpc/server";
import { ZodError } from "zod";
import { describeZod } from "@/contracts/zod";
import { DomainError } from "@/server/errors";
import type { Context } from "./context";
import { createCallerFactory, type Access, type Meta } from "./init";
import { appRouter } from "./root";

const createCaller = createCallerFactory(appRouter);
type Procedures = Record<string, { _def: { meta?: Meta; type: "query" | "mutation" | "subscription" } }>;

/** Every procedure's path and declared access. */
export function procedureAccessList(): { path: string; type: string; access: Access | undefined }[] {
  return Object.entries(appRouter._def.procedures as unknown as Procedures).map(([path, procedure]) => ({ path, type: procedure._def.type, access: procedure._def.meta?.access }));
}

export function procedureAccess(path: string): Access | undefined {
  return (appRouter._def.procedures as unknown as Procedures)[path]?._def.meta?.access;
}

/**
 * A function calling any query or mutation by path as `ctx.actor`. Refusals and domain errors come back
 * as DomainError (code and message as a tRPC client would see them), invalid input as BAD_REQUEST.
 */
export function procedureCaller(ctx: Context): (path: string, input: Record<string, unknown>) => Promise<unknown> {
  const caller = createCaller(ctx) as unknown as Record<string, Record<string, (input: unknown) => Promise<unknown>>>;
  return async (path, input) => {
    const [namespace, name] = path.split(".");
    const procedure = (appRouter._def.procedures as unknown as Procedures)[path];
    if (!procedure || procedure._def.type === "subscription") throw new DomainError("NOT_FOUND", `No procedure ${path}.`);
    try {
      return await caller[namespace][name](input);
    } catch (error) {
      if (!(error instanceof TRPCError)) throw error;
      if (error.cause instanceof DomainError) throw error.cause;
      if (error.code === "BAD_REQUEST" && error.cause instanceof ZodError) throw new DomainError("BAD_REQUEST", describeZod(error.cause).message);
      if (error.code === "INTERNAL_SERVER_ERROR") throw error.cause ?? error;
      const code = (["BAD_REQUEST", "UNAUTHORIZED", "NOT_FOUND", "CONFLICT", "FORBIDDEN", "PRECONDITION_FAILED", "TOO_MANY_REQUESTS"] as const).find((c) => c === error.code) ?? "BAD_REQUEST";
      throw new DomainError(code, error.message);
    }
  };
}
