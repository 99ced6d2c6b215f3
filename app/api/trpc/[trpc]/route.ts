import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/trpc/root";
import { createContext } from "@/server/trpc/context";
import { RateLimited } from "@/server/errors";
import { crossSiteRefusal } from "@/server/auth/origins";
import { jsonTooDeep, TOO_DEEP_MESSAGE } from "@/server/http/json-depth";

export const dynamic = "force-dynamic";

const tooDeep = () => Response.json({ error: { code: "BAD_REQUEST", message: TOO_DEEP_MESSAGE } }, { status: 400 });

async function handler(req: Request) {
  // Mutations (POST) with the session cookie only from the app's own pages (server/auth/origins.ts).
  const refusal = crossSiteRefusal(req.method, req.headers, new URL(req.url).origin);
  if (refusal) return Response.json({ error: { code: "FORBIDDEN", message: refusal } }, { status: 403 });
  // Deeply nested input is refused before any recursive code sees it (server/http/json-depth.ts).
  const input = new URL(req.url).searchParams.get("input");
  if (input && jsonTooDeep(input)) return tooDeep();
  if (req.method === "POST" && req.body) {
    const text = await req.text();
    if (jsonTooDeep(text)) return tooDeep();
    req = new Request(req, { body: text });
  }
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
