// Awaits an operation that must be refused with a given error class, and returns the message.
import { expect } from "vitest";
import { TRPCError } from "@trpc/server";
import { DomainError } from "@/server/errors";

export async function refusal(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error = DomainError): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorClass);
  return (error as Error).message;
}

/** Awaits a tRPC call that must be refused, and returns the error (its code and message). */
export async function trpcRefusal(promise: Promise<unknown>): Promise<TRPCError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  return error as TRPCError;
}
