import { decode } from "next-auth/jwt";

const SESSION_COOKIES = ["__Secure-next-auth.session-token", "next-auth.session-token"];

export function parseCookieHeader(header: string | null | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  if (!header) return cookies;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    try {
      cookies.set(name, decodeURIComponent(value));
    } catch {
      cookies.set(name, value);
    }
  }
  return cookies;
}

/** Reassembles a session token that next-auth may have split into `name.0`, `name.1`, ... cookies. */
function readSessionToken(cookies: Map<string, string>): string | undefined {
  for (const name of SESSION_COOKIES) {
    const whole = cookies.get(name);
    if (whole) return whole;
    const chunks: string[] = [];
    for (let i = 0; cookies.has(`${name}.${i}`); i++) chunks.push(cookies.get(`${name}.${i}`)!);
    if (chunks.length) return chunks.join("");
  }
  return undefined;
}

export function authSecret(): string {
  const secret = process.env.NEXTAUTH_SECRET;
  if (!secret) throw new Error("NEXTAUTH_SECRET is not set: the server must set it at start");
  return secret;
}

/**
 * The signed-in user id from a raw Cookie header. Used by the tRPC context and by WebSocket
 * upgrades, which have no Next request object (next-auth's getToken reads req.cookies only).
 */
export async function userIdFromCookieHeader(cookieHeader: string | null | undefined): Promise<string | null> {
  const token = readSessionToken(parseCookieHeader(cookieHeader));
  if (!token) return null;
  try {
    const payload = await decode({ token, secret: authSecret() });
    return typeof payload?.uid === "string" ? payload.uid : null;
  } catch {
    return null;
  }
}
