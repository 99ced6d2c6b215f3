import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/trpc/root";
import { createContext } from "@/server/trpc/context";
import { RateLimited } from "@/server/errors";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ headers: req.headers }),
    // A 429 says when to try again (server/auth/rate-limit.ts).
    responseMeta({ errors }) {
      const limited = errors.map((e) => e.cause).find((cause): cause is RateLimited => cause instanceof RateLimited);
      return limited ? { headers: new Headers({ "retry-after": String(limited.retryAfterSeconds) }) } : {};
    },
  });
}

export { handler as GET, handler as POST };
