/** An error a user can act on, raised by services and translated to a tRPC error at the edge. */
export class DomainError extends Error {
  constructor(
    readonly code: "BAD_REQUEST" | "UNAUTHORIZED" | "NOT_FOUND" | "CONFLICT" | "FORBIDDEN" | "PRECONDITION_FAILED",
    message: string,
  ) {
    super(message);
    this.name = "DomainError";
  }
}
