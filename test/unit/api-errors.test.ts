// What a client sees when something goes wrong: the field that was wrong, or an error id, never a stack.
import { describe, expect, it, vi } from "vitest";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/trpc/root";
import type { Context } from "@/server/trpc/context";

async function call(path: string, input: unknown, ctx: Partial<Context>) {
  const req = new Request(`http://localhost/api/trpc/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ json: input }),
  });
  const res = await fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: async () => ({ requestId: "test", actor: null, ...ctx }) as Context,
  });
  return { status: res.status, body: (await res.json()) as { error: { json: { message: string; data: Record<string, unknown> } } } };
}

describe("API errors", () => {
  it("names each invalid field in the message and in fieldErrors", async () => {
    const { status, body } = await call("user.signUp", { email: "nope", name: "", password: "short" }, { db: {} as Context["db"] });
    expect(status).toBe(400);
    const error = body.error.json;
    expect(error.message).toContain("email: must be an email address");
    expect(error.message).toContain("password: must be at least 10 characters");
    expect(error.data.fieldErrors).toMatchObject({ email: "must be an email address", name: "is required" });
    expect(JSON.stringify(body)).not.toContain("stack");
  });

  it("shows an internal failure only as an error id, and logs the details with that id", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const brokenDb = new Proxy({}, { get: () => { throw new Error("connection string postgres://secret@db leaked?"); } }) as Context["db"];
    const { status, body } = await call("org.create", { name: "Acme" }, {
      db: brokenDb,
      actor: { type: "user", userId: "u1", email: "a@example.test", name: "A" },
    });
    expect(status).toBe(500);
    const message = body.error.json.message;
    const id = /error id ([0-9a-f]{12})/.exec(message)?.[1];
    expect(id).toBeDefined();
    expect(JSON.stringify(body)).not.toContain("postgres://");
    expect(JSON.stringify(body)).not.toContain("at ");
    expect(log.mock.calls.some((args) => String(args[0]).includes(id!))).toBe(true);
    log.mockRestore();
  });

  it("refuses anonymous callers before the procedure runs", async () => {
    const { status, body } = await call("org.create", { name: "Acme" }, { db: {} as Context["db"] });
    expect(status).toBe(401);
    expect(body.error.json.message).toBe("Sign in to continue.");
  });
});
