import type { NextAuthOptions } from "next-auth";
import CredentialsProvider from "next-auth/providers/credentials";
import type { OAuthConfig } from "next-auth/providers/oauth";
import { getDb } from "@/server/db/client";
import { authorizeCredentials } from "./credentials";
import { CLIENT_ADDRESS_HEADER } from "./rate-limit";
import { authSecret } from "./session";
import { linkOidcUser } from "./sso";
import { safeRedirectUrl } from "@/contracts/redirect";
import { createSession, endSession, SESSION_MAX_AGE_SECONDS, sessionIsLive } from "./sessions";

interface OidcProfile {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
  preferred_username?: string;
}

/** Company SSO over OpenID Connect, present only when HEARTH_OIDC_ISSUER and its client are configured. */
export function oidcSettings() {
  const issuer = process.env.HEARTH_OIDC_ISSUER;
  const clientId = process.env.HEARTH_OIDC_CLIENT_ID;
  const clientSecret = process.env.HEARTH_OIDC_CLIENT_SECRET;
  if (!issuer || !clientId || !clientSecret) return null;
  return { issuer: issuer.replace(/\/$/, ""), clientId, clientSecret, name: process.env.HEARTH_OIDC_NAME || "Company SSO" };
}

interface OidcUser {
  id: string;
  email: string | null;
  name: string;
  emailVerified: boolean;
}

/**
 * Claims from the userinfo endpoint, for providers that keep email and profile claims out of the ID
 * token (as OpenID Connect allows). Only accepted when they describe the same subject.
 */
async function userinfoClaims(issuer: string, accessToken: string, subject: string): Promise<Partial<OidcProfile>> {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { userinfo_endpoint?: string };
  if (!discovery.userinfo_endpoint) return {};
  const response = await fetch(discovery.userinfo_endpoint, { headers: { authorization: `Bearer ${accessToken}` } });
  if (!response.ok) return {};
  const claims = (await response.json()) as OidcProfile;
  return claims.sub === subject ? claims : {};
}

function oidcProvider(settings: NonNullable<ReturnType<typeof oidcSettings>>): OAuthConfig<OidcProfile> {
  return {
    id: "oidc",
    name: settings.name,
    type: "oauth",
    wellKnown: `${settings.issuer}/.well-known/openid-configuration`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    authorization: { params: { scope: "openid email profile" } },
    idToken: true,
    checks: ["pkce", "state", "nonce"],
    async profile(idClaims, tokens): Promise<OidcUser> {
      const claims = !idClaims.email && tokens.access_token ? { ...(await userinfoClaims(settings.issuer, tokens.access_token, idClaims.sub)), ...idClaims } : idClaims;
      return {
        id: claims.sub,
        email: claims.email ?? null,
        name: claims.name ?? claims.preferred_username ?? claims.email ?? claims.sub,
        emailVerified: claims.email_verified === true,
      };
    },
  };
}

export function buildAuthOptions(): NextAuthOptions {
  const oidc = oidcSettings();
  return {
    secret: authSecret(),
    session: { strategy: "jwt", maxAge: SESSION_MAX_AGE_SECONDS },
    pages: { signIn: "/signin", error: "/signin" },
    providers: [
      CredentialsProvider({
        id: "credentials",
        name: "Email and password",
        credentials: { email: { label: "Email", type: "email" }, password: { label: "Password", type: "password" } },
        async authorize(credentials, req) {
          // Limited per account and per address (server/auth/credentials.ts); the route answers 429 before this.
          const headers = (req?.headers ?? {}) as Record<string, string | undefined>;
          const address = headers[CLIENT_ADDRESS_HEADER] || null;
          const user = await authorizeCredentials(getDb(), credentials, address);
          // Shown on the sessions page; handed to the jwt callback, which stores the session.
          return user ? { ...user, userAgent: headers["user-agent"] ?? null, address } : null;
        },
      }),
      ...(oidc ? [oidcProvider(oidc)] : []),
    ],
    events: {
      async signOut({ token }) {
        // Sign-out ends the stored session, so a copy of the cookie stops working too.
        if (typeof token?.sid === "string") await endSession(getDb(), token.sid);
      },
    },
    callbacks: {
      async redirect({ url, baseUrl }) {
        // The same same-origin rule as the sign-in and sign-up pages (SSO sign-in passes callbackUrl here).
        return safeRedirectUrl(url, baseUrl);
      },
      async signIn({ account, user }) {
        // Hearth identifies people by email: an SSO identity without one is refused.
        return account?.provider !== "oidc" || Boolean(user.email);
      },
      async jwt({ token, user, account }) {
        if (account?.provider === "oidc" && user) {
          const sso = user as unknown as OidcUser;
          token.uid = await linkOidcUser(getDb(), { subject: sso.id, email: sso.email!, emailVerified: sso.emailVerified, name: sso.name });
        } else if (user) {
          token.uid = user.id;
        }
        if (user) {
          // Each sign-in is a stored session; the cookie carries its id (server/auth/sessions.ts).
          const details = user as { userAgent?: string | null; address?: string | null };
          token.sid = await createSession(getDb(), token.uid as string, { userAgent: details.userAgent, address: details.address });
        } else if (typeof token.sid !== "string" || typeof token.uid !== "string" || !(await sessionIsLive(getDb(), token.sid, token.uid))) {
          // An ended session (or a cookie from before sessions were stored): the browser is signed out.
          return { ...token, uid: undefined, sid: undefined };
        }
        return token;
      },
      async session({ session, token }) {
        // An ended session reads as none: next-auth answers an empty session as signed out.
        if (typeof token.uid !== "string") return {} as typeof session;
        return { ...session, user: { ...session.user, id: token.uid } };
      },
    },
  };
}
