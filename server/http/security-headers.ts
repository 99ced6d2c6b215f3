// Security headers on every response of the custom server: Next's pages and routes, and the two APIs
// served before Next (/api/node, /v1), which next.config.ts's headers() never reached. HSTS is sent
// when Hearth is served over https (the public URL, a TLS socket, or a proxy saying so).
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";

export const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ["X-Frame-Options", "DENY"],
  ["X-Content-Type-Options", "nosniff"],
  ["Referrer-Policy", "same-origin"],
  ["Permissions-Policy", "camera=(), microphone=(), geolocation=()"],
];

export const HSTS = "max-age=31536000; includeSubDomains";

export function servedOverHttps(req: IncomingMessage, publicUrl?: string): boolean {
  if (publicUrl?.startsWith("https:")) return true;
  if ((req.socket as TLSSocket).encrypted) return true;
  return String(req.headers["x-forwarded-proto"] ?? "").split(",")[0].trim() === "https";
}

export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse, publicUrl?: string): void {
  for (const [name, value] of SECURITY_HEADERS) res.setHeader(name, value);
  if (servedOverHttps(req, publicUrl)) res.setHeader("Strict-Transport-Security", HSTS);
}

/** `listener` with the security headers set on every response before it runs. */
export function withSecurityHeaders(listener: RequestListener, options: { publicUrl?: string } = {}): RequestListener {
  return (req, res) => {
    applySecurityHeaders(req, res, options.publicUrl);
    return listener(req, res);
  };
}
