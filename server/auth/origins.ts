// Which browser pages may act with a user's session cookie. Browsers attach the cookie to requests
// that any page makes (a form or fetch from another site, or from another port of localhost, which is
// "same-site"), but they also send `Origin` on every POST and `Sec-Fetch-Site` on every request, which
// a page cannot forge. A state-changing request authenticated by the cookie is therefore refused unless
// it comes from the app's own origin. Requests with an API key (Authorization) carry no ambient
// credential and are not checked; neither are requests without both headers (non-browser clients).

/** The origins a browser page may act from: NEXTAUTH_URL's, plus HEARTH_ALLOWED_ORIGINS (comma-separated). */
export function allowedOriginsFromEnvironment(): Set<string> {
  const origins = new Set<string>();
  for (const candidate of [process.env.NEXTAUTH_URL, ...(process.env.HEARTH_ALLOWED_ORIGINS ?? "").split(",")]) {
    if (!candidate?.trim()) continue;
    try {
      origins.add(new URL(candidate.trim()).origin);
    } catch {
      console.warn(`[hearth] ignoring invalid origin ${JSON.stringify(candidate)}`);
    }
  }
  return origins;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Why a request must be refused as cross-site (a reason for the 403), or null: only state-changing
 * methods, only when authenticated by the session cookie (no Authorization header, a Cookie header).
 * `requestOrigin` is the origin the request was addressed to (the app's own, same-origin pages).
 */
export function crossSiteRefusal(method: string, headers: Headers, requestOrigin?: string): string | null {
  if (SAFE_METHODS.has(method.toUpperCase())) return null;
  if (headers.get("authorization") || !headers.get("cookie")) return null;
  // Origin decides when present (so HEARTH_ALLOWED_ORIGINS on a sibling host works); otherwise Sec-Fetch-Site.
  const origin = headers.get("origin");
  if (origin !== null) {
    const allowed = allowedOriginsFromEnvironment();
    if (requestOrigin) allowed.add(requestOrigin);
    return allowed.has(origin) ? null : `Cross-site request refused (Origin: ${origin}).`;
  }
  const fetchSite = headers.get("sec-fetch-site");
  if (fetchSite && fetchSite !== "same-origin" && fetchSite !== "none") return `Cross-site request refused (Sec-Fetch-Site: ${fetchSite}).`;
  return null;
}
