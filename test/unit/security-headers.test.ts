// The custom server's security headers: on the APIs served before Next (/v1, /api/node) as on pages,
// and HSTS only when served over https.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { HSTS, SECURITY_HEADERS, withSecurityHeaders } from "@/server/http/security-headers";

let server: http.Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = null;
});

async function serve(publicUrl: string): Promise<string> {
  // Like server/main.ts: the node API and /v1 answer without Next.
  server = http.createServer(withSecurityHeaders((req, res) => {
    res.writeHead(req.url?.startsWith("/v1") ? 401 : 200, { "content-type": "application/json" }).end("{}");
  }, { publicUrl }));
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("security headers of the custom server", () => {
  it("are on /v1 and /api/node responses, without HSTS over plain http", async () => {
    const url = await serve("http://localhost:3000");
    for (const path of ["/v1/models", "/api/node/jobs/next", "/"]) {
      const res = await fetch(url + path);
      for (const [name, value] of SECURITY_HEADERS) expect(res.headers.get(name), `${name} on ${path}`).toBe(value);
      expect(res.headers.get("strict-transport-security")).toBeNull();
    }
  });

  it("add HSTS when served over https (public URL or proxy)", async () => {
    const url = await serve("https://hearth.example.com");
    expect((await fetch(`${url}/v1/models`)).headers.get("strict-transport-security")).toBe(HSTS);
    await new Promise((resolve) => server?.close(resolve));
    const plain = await serve("http://localhost:3000");
    expect((await fetch(`${plain}/api/node/jobs/next`, { headers: { "x-forwarded-proto": "https" } })).headers.get("strict-transport-security")).toBe(HSTS);
  });
});
