// Open redirect after sign-in: callbackUrl is attacker-chosen, so only same-origin paths survive.
import { describe, expect, it } from "vitest";
import { safeCallbackPath, safeRedirectUrl } from "@/contracts/redirect";
import { buildAuthOptions } from "@/server/auth/options";

process.env.NEXTAUTH_SECRET ??= "redirect-test-secret";

const OFFSITE = [
  "/\\evil.example/",
  "/\t/evil.example/",
  "/\n/evil.example/",
  "//evil.example/",
  "/.//evil.example/",
  "/\\/evil.example",
  "https://evil.example/",
  "javascript:alert(1)",
  "evil.example",
  "",
];

describe("callbackUrl after sign-in and sign-up", () => {
  it("keeps same-origin paths with their query and fragment", () => {
    expect(safeCallbackPath("/orgs/abc?tab=runs#top")).toBe("/orgs/abc?tab=runs#top");
    expect(safeCallbackPath("/invite/xyz")).toBe("/invite/xyz");
  });

  it.each(OFFSITE)("refuses %j, which a browser would take off the site", (raw) => {
    expect(safeCallbackPath(raw)).toBe("/orgs");
    // The query string as the probe sent it, decoded as URLSearchParams does.
    expect(safeCallbackPath(new URLSearchParams(`callbackUrl=${encodeURIComponent(raw)}`).get("callbackUrl"))).toBe("/orgs");
  });

  it("refuses the probe's encoded forms", () => {
    for (const query of ["callbackUrl=/%5Cevil.example/", "callbackUrl=/%09/evil.example/"]) {
      const target = safeCallbackPath(new URLSearchParams(query).get("callbackUrl"));
      expect(new URL(target, "https://hearth.example").host).toBe("hearth.example");
    }
  });

  it("holds in next-auth's redirect callback (SSO sign-in)", async () => {
    const base = "https://hearth.example";
    const redirect = buildAuthOptions().callbacks!.redirect!;
    for (const url of OFFSITE) {
      expect(new URL(await redirect({ url, baseUrl: base })).host).toBe("hearth.example");
      expect(new URL(safeRedirectUrl(url, base)).host).toBe("hearth.example");
    }
    expect(await redirect({ url: "/orgs/1", baseUrl: base })).toBe("https://hearth.example/orgs/1");
    expect(await redirect({ url: "https://hearth.example/orgs/2", baseUrl: base })).toBe("https://hearth.example/orgs/2");
  });
});
