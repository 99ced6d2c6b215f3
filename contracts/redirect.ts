// Where to go after sign-in or sign-up: only a path on this site. The callbackUrl comes from a link
// anyone can craft, and browsers read "/\evil.example" or "/<tab>/evil.example" as "//evil.example",
// another site; so the value is parsed as a browser would, and kept only when it stays on our origin.

const PLACEHOLDER_ORIGIN = "https://hearth.invalid";

/** `raw` as a same-origin path (with query and fragment), or `fallback` when it would leave the site. */
export function safeCallbackPath(raw: string | null | undefined, fallback = "/orgs"): string {
  if (!raw || !raw.startsWith("/")) return fallback;
  let url: URL;
  try {
    url = new URL(raw, PLACEHOLDER_ORIGIN);
  } catch {
    return fallback;
  }
  if (url.origin !== PLACEHOLDER_ORIGIN) return fallback;
  const path = url.pathname + url.search + url.hash;
  // The normalized path itself must not read as another host ("/.//evil.example" becomes "//evil.example").
  if (!path.startsWith("/") || path.startsWith("//") || path.startsWith("/\\")) return fallback;
  return path;
}

/**
 * For next-auth's redirect callback: a path or an absolute URL on `baseUrl`'s origin, made absolute
 * on it; anything else goes to `baseUrl`.
 */
export function safeRedirectUrl(url: string, baseUrl: string): string {
  const base = new URL(baseUrl);
  if (url.startsWith("/")) return new URL(safeCallbackPath(url, "/"), base).toString();
  try {
    const absolute = new URL(url);
    if (absolute.origin === base.origin) return new URL(safeCallbackPath(absolute.pathname + absolute.search + absolute.hash, "/"), base).toString();
  } catch {
    // not a URL
  }
  return baseUrl;
}
