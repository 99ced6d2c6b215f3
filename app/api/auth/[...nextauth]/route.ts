import NextAuth from "next-auth";
import { buildAuthOptions } from "@/server/auth/options";
import { signInBlockedFor } from "@/server/auth/credentials";
import { clientAddress } from "@/server/auth/rate-limit";
import { getDb } from "@/server/db/client";

export const dynamic = "force-dynamic";

type RouteContext = { params: Promise<{ nextauth: string[] }> };

/**
 * A password sign-in while its account or address is limited is answered 429 with Retry-After,
 * before next-auth (and scrypt) runs. The body keeps next-auth's shape, so the page shows why.
 */
async function limitedSignIn(req: Request, path: string): Promise<Response | null> {
  if (req.method !== "POST" || path !== "callback/credentials") return null;
  const form = await req
    .clone()
    .formData()
    .catch(() => null);
  const wait = await signInBlockedFor(getDb(), String(form?.get("email") ?? ""), clientAddress(req.headers));
  if (!wait) return null;
  const base = process.env.NEXTAUTH_URL ?? new URL(req.url).origin;
  return Response.json({ url: `${base}/signin?error=TooManyAttempts` }, { status: 429, headers: { "retry-after": String(wait) } });
}

async function handler(req: Request, context: RouteContext) {
  // next-auth v4 reads params synchronously; Next 16 passes them as a promise.
  const params = await context.params;
  const limited = await limitedSignIn(req, params.nextauth.join("/"));
  if (limited) return limited;
  return NextAuth(req as never, { params } as never, buildAuthOptions());
}

export { handler as GET, handler as POST };
