import { decode } from "next-auth/jwt";
import type { PrismaClient } from "@/server/db/generated/client";
import { sessionIsLive } from "./sessions";

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
 * The signed-in user and session from a raw Cookie header: a valid next-auth token whose session id
 * is a live stored session of its user (one primary-key lookup). Used by the tRPC context, the routes
 * and WebSocket upgrades, which have no Next request object (next-auth's getToken reads req.cookies only).
 */
export async function sessionFromCookieHeader(db: Pick<PrismaClient, "session">, cookieHeader: string | null | undefined): Promise<{ userId: string; sessionId: string } | null> {
  const token = readSessionToken(parseCookieHeader(cookieHeader));
  if (!token) return null;
  let payload;
  try {
    payload = await decode({ token, secret: authSecret() });
  } catch {
    return null;
  }
  // A cookie without a session id (from before server-side sessions) cannot be ended, so it is refused.
  if (typeof payload?.uid !== "string" || typeof payload.sid !== "string") return null;
  return (await sessionIsLive(db, payload.sid, payload.uid)) ? { userId: payload.uid, sessionId: payload.sid } : null;
}

/** The signed-in user id from a raw Cookie header, checked against the stored session (sessionFromCookieHeader). */
export async function userIdFromCookieHeader(db: Pick<PrismaClient, "session">, cookieHeader: string | null | undefined): Promise<string | null> {
  return (await sessionFromCookieHeader(db, cookieHeader))?.userId ?? null;
}
