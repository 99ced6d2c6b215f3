// Awaits an operation that must be refused with a given error class, and returns the message.
import { expect } from "vitest";
import { DomainError } from "@/server/errors";

export async function refusal(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error = DomainError): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(errorClass);
  return (error as Error).message;
}
