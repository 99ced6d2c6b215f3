import NextAuth from "next-auth";
import { buildAuthOptions } from "@/server/auth/options";

export const dynamic = "force-dynamic";

type RouteContext = { params: Promise<{ nextauth: string[] }> };

async function handler(req: Request, context: RouteContext) {
  // next-auth v4 reads params synchronously; Next 16 passes them as a promise.
  const params = await context.params;
  return NextAuth(req as never, { params } as never, buildAuthOptions());
}

export { handler as GET, handler as POST };
