/** An error a user can act on, raised by services and translated to a tRPC error at the edge. */
export class DomainError extends Error {
  constructor(
    readonly code: "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN" | "PRECONDITION_FAILED" | "TOO_MANY_REQUESTS",
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}

/** Too many failed attempts: answered with 429 and Retry-After (server/auth/rate-limit.ts). */
export class RateLimited extends DomainError {
  constructor(readonly retryAfterSeconds: number) {
    super("TOO_MANY_REQUESTS", `Too many failed attempts. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? "" : "s"}.`);
    this.name = "RateLimited";
  }
}
