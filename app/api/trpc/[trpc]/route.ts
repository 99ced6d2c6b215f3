import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/trpc/root";
import { createContext } from "@/server/trpc/context";
import { crossSiteRefusal } from "@/server/auth/origins";

export const dynamic = "force-dynamic";

function handler(req: Request) {
  // Mutations (POST) with the session cookie only from the app's own pages (server/auth/origins.ts).
  const refusal = crossSiteRefusal(req.method, req.headers, new URL(req.url).origin);
  if (refusal) return Response.json({ error: { code: "FORBIDDEN", message: refusal } }, { status: 403 });
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ headers: req.headers }),
  });
}

export { handler as GET, handler as POST };
