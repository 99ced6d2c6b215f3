// The SSRF guard for URLs people type: private and metadata addresses are refused directly, through a
// redirect, and through a DNS name (a resolver injected here stands in for DNS), unless the operator's
// allowlist names them; the socket connects to the address that was checked. Real HTTP servers on
// loopback play the "internal service" an attacker would aim at.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockedReason, parseAddress } from "@/server/endpoints/addresses";
import { checkDestination, guardedFetch, OutboundRequestError, parseAllowlist, SsrfRefused, type Resolver } from "@/server/endpoints/ssrf";
import { refusal as refusedWith } from "../support/refusal";

const refusal = (promise: Promise<unknown>) => refusedWith(promise, SsrfRefused);

interface Seen {
  path: string;
  host: string | undefined;
  authorization: string | undefined;
}

/** A loopback HTTP server that records what reached it; `route` decides the answer. */
async function startServer(route: (req: http.IncomingMessage, res: http.ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? "", host: req.headers.host, authorization: req.headers.authorization });
    route(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A resolver from a fixed table that counts its lookups. */
function tableResolver(table: Record<string, string[]>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolver = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (!addresses) throw new Error(`ENOTFOUND ${hostname}`);
    return addresses.map((address) => ({ address, family: (address.includes(":") ? 6 : 4) as 4 | 6 }));
  };
  return Object.assign(resolver, { calls });
}

const NOTHING_ALLOWED = parseAllowlist("");

describe("address classification", () => {
  const cases: [string, string | null][] = [
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["172.32.0.1", null],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.100.100.200", "cloud metadata"],
    ["169.254.169.254", "cloud metadata"],
    ["169.254.10.10", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["8.8.8.8", null],
    ["93.184.216.34", null],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["fc00::1", "unique local (private)"],
    ["fd12:3456::1", "unique local (private)"],
    ["fd00:ec2::254", "cloud metadata"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "cloud metadata"],
    ["::ffff:10.0.0.1", "private"],
    ["::127.0.0.1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "cloud metadata"],
    ["2002:7f00:1::", "loopback"],
    ["::ffff:8.8.8.8", null],
    ["2606:4700:4700::1111", null],
  ];
  it.each(cases)("%s is %s", (address, reason) => {
    expect(blockedReason(parseAddress(address)!)).toBe(reason);
  });

  it("judges the other spellings of an IPv4 address that URLs accept", async () => {
    for (const url of ["http://2130706433/", "http://0x7f.0.0.1/", "http://127.1/", "http://[::ffff:127.0.0.1]/", "http://[0:0:0:0:0:0:0:1]/"]) {
      expect(await refusal(checkDestination(new URL(url), { allowlist: NOTHING_ALLOWED }))).toContain("loopback");
    }
  });
});

describe("the allowlist", () => {
  it("reads addresses, ranges and host names, each with an optional port", () => {
    const list = parseAllowlist("127.0.0.1, 10.0.0.0/8 [::1]:8080 localhost:3000,fd00::/8 llm.internal.");
    expect(list.entries.map((e) => [e.host ?? `${e.cidr!.family}/${e.cidr!.prefix}`, e.port ?? null])).toEqual([
      ["4/32", null],
      ["4/8", null],
      ["6/128", 8080],
      ["localhost", 3000],
      ["6/8", null],
      ["llm.internal", null],
    ]);
  });

  it("refuses an entry it cannot read instead of ignoring it", () => {
    expect(() => parseAllowlist("127.0.0.1/40")).toThrow(/cannot read "127.0.0.1\/40"/);
    expect(() => parseAllowlist("http://x")).toThrow(/cannot read/);
    expect(() => parseAllowlist("127.0.0.1:99999")).toThrow(/invalid port/);
  });
});

describe("guarded requests", () => {
  let target: Awaited<ReturnType<typeof startServer>>;
  let redirector: Awaited<ReturnType<typeof startServer>>;
  let redirectTo = "";

  beforeAll(async () => {
    target = await startServer((_req, res) => res.end("internal secret"));
    redirector = await startServer((_req, res) => {
      res.writeHead(302, { location: redirectTo });
      res.end();
    });
  });
  afterAll(async () => {
    await target.close();
    await redirector.close();
  });

  it("refuses a private address given directly, and sends nothing", async () => {
    const before = target.seen.length;
    const message = await refusal(guardedFetch(`http://127.0.0.1:${target.port}/v1/models`, {}, { allowlist: NOTHING_ALLOWED }));
    expect(message).toContain("127.0.0.1 is a loopback address");
    expect(message).toContain("HEARTH_ENDPOINT_ALLOWLIST");
    expect(await refusal(guardedFetch("http://169.254.169.254/latest/meta-data/", {}, { allowlist: NOTHING_ALLOWED }))).toContain("cloud metadata");
    expect(await refusal(guardedFetch("http://[fd00:ec2::254]/latest/meta-data/", {}, { allowlist: NOTHING_ALLOWED }))).toContain("cloud metadata");
    expect(await refusal(guardedFetch(`http://[::ffff:127.0.0.1]:${target.port}/`, {}, { allowlist: NOTHING_ALLOWED }))).toContain("loopback");
    expect(target.seen.length).toBe(before);
  });

  it("reaches an address the allowlist names, on the named port only", async () => {
    const allowlist = parseAllowlist(`127.0.0.1:${target.port}`);
    const response = await guardedFetch(`http://127.0.0.1:${target.port}/ok`, {}, { allowlist });
    expect([response.status, response.body]).toEqual([200, "internal secret"]);
    expect(await refusal(guardedFetch(`http://127.0.0.1:${redirector.port}/`, {}, { allowlist }))).toContain("loopback");
    const range = await guardedFetch(`http://127.0.0.1:${target.port}/ok`, {}, { allowlist: parseAllowlist("127.0.0.0/8") });
    expect(range.status).toBe(200);
  });

  it("refuses a redirect from an allowed host to a private or metadata address", async () => {
    const allowlist = parseAllowlist(`127.0.0.1:${redirector.port}`);
    const before = target.seen.length;
    redirectTo = `http://127.0.0.1:${target.port}/internal`;
    expect(await refusal(guardedFetch(`http://127.0.0.1:${redirector.port}/start`, {}, { allowlist }))).toContain("127.0.0.1 is a loopback address");
    redirectTo = "http://169.254.169.254/latest/meta-data/iam/security-credentials/";
    expect(await refusal(guardedFetch(`http://127.0.0.1:${redirector.port}/start`, {}, { allowlist }))).toContain("cloud metadata");
    redirectTo = "http://metadata.google.internal/computeMetadata/v1/";
    expect(await refusal(guardedFetch(`http://127.0.0.1:${redirector.port}/start`, {}, { allowlist }))).toContain("metadata.google.internal is a cloud metadata service");
    redirectTo = "http://[::1]:1/";
    expect(await refusal(guardedFetch(`http://127.0.0.1:${redirector.port}/start`, {}, { allowlist }))).toContain("loopback");
    expect(target.seen.length).toBe(before);
  });

  it("follows a redirect to an allowlisted origin without the first origin's credentials", async () => {
    const allowlist = parseAllowlist(`127.0.0.1:${redirector.port} 127.0.0.1:${target.port}`);
    redirectTo = `http://127.0.0.1:${target.port}/moved`;
    const response = await guardedFetch(`http://127.0.0.1:${redirector.port}/start`, { headers: { authorization: "Bearer upstream-key" } }, { allowlist });
    expect(response.body).toBe("internal secret");
    expect(response.url).toBe(`http://127.0.0.1:${target.port}/moved`);
    expect(redirector.seen.at(-1)!.authorization).toBe("Bearer upstream-key");
    expect(target.seen.at(-1)).toMatchObject({ path: "/moved", authorization: undefined });
  });

  it("stops after the redirect limit", async () => {
    const allowlist = parseAllowlist(`127.0.0.1:${redirector.port}`);
    redirectTo = `http://127.0.0.1:${redirector.port}/again`;
    const error = await guardedFetch(`http://127.0.0.1:${redirector.port}/start`, { maxRedirects: 3 }, { allowlist }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OutboundRequestError);
    expect((error as OutboundRequestError).kind).toBe("redirects");
  });

  it("refuses a name that resolves to a private or metadata address", async () => {
    const resolver = tableResolver({
      "internal.example.test": ["10.0.0.5"],
      "metadata.attacker.test": ["169.254.169.254"],
      "v6.attacker.test": ["fd00:ec2::254"],
      "mapped.attacker.test": ["::ffff:127.0.0.1"],
      "mixed.attacker.test": ["93.184.216.34", "127.0.0.1"],
    });
    const options = { resolver, allowlist: NOTHING_ALLOWED };
    expect(await refusal(guardedFetch("http://internal.example.test/", {}, options))).toContain("internal.example.test resolves to 10.0.0.5, a private address");
    expect(await refusal(guardedFetch("https://metadata.attacker.test/", {}, options))).toContain("resolves to 169.254.169.254, a cloud metadata address");
    expect(await refusal(guardedFetch("http://v6.attacker.test/", {}, options))).toContain("cloud metadata");
    expect(await refusal(guardedFetch("http://mapped.attacker.test/", {}, options))).toContain("loopback");
    // Every address counts, not just the first.
    expect(await refusal(guardedFetch("http://mixed.attacker.test/", {}, options))).toContain("resolves to 127.0.0.1");
  });

  it("connects to the address it checked: one lookup per hop, no second resolution to rebind", async () => {
    // .test names never resolve in real DNS, so a response proves the socket used the checked address.
    let answers = 0;
    const rebinding: Resolver = async () => [{ address: answers++ === 0 ? "127.0.0.1" : "10.9.9.9", family: 4 }];
    const response = await guardedFetch(`http://service.example.test:${target.port}/pinned`, {}, { resolver: rebinding, allowlist: parseAllowlist("127.0.0.1") });
    expect(response.body).toBe("internal secret");
    expect(answers).toBe(1);
    expect(target.seen.at(-1)).toMatchObject({ path: "/pinned", host: `service.example.test:${target.port}` });
  });

  it("trusts a host name the allowlist names, wherever it resolves", async () => {
    const resolver = tableResolver({ "llm.internal.test": ["127.0.0.1"] });
    const allowed = await guardedFetch(`http://llm.internal.test:${target.port}/`, {}, { resolver, allowlist: parseAllowlist(`llm.internal.test:${target.port}`) });
    expect(allowed.status).toBe(200);
    expect(await refusal(guardedFetch(`http://llm.internal.test:${target.port}/`, {}, { resolver, allowlist: parseAllowlist("other.internal.test") }))).toContain("loopback");
  });

  it("gives up on a silent server after the timeout, and stops at once when cancelled", async () => {
    const silent = await startServer(() => undefined);
    try {
      const allowlist = parseAllowlist(`127.0.0.1:${silent.port}`);
      const timedOut = await guardedFetch(`http://127.0.0.1:${silent.port}/`, { timeoutMs: 200 }, { allowlist }).catch((e: unknown) => e);
      expect(timedOut).toBeInstanceOf(OutboundRequestError);
      expect((timedOut as OutboundRequestError).kind).toBe("timeout");
      const controller = new AbortController();
      const pending = guardedFetch(`http://127.0.0.1:${silent.port}/`, { signal: controller.signal, timeoutMs: 60_000 }, { allowlist }).catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 50));
      controller.abort();
      expect(((await pending) as OutboundRequestError).kind).toBe("aborted");
    } finally {
      await silent.close();
    }
  });

  it("refuses other schemes and credentials in the URL", async () => {
    expect(await refusal(guardedFetch("file:///etc/passwd", {}, { allowlist: NOTHING_ALLOWED }))).toContain("Only http and https");
    expect(await refusal(guardedFetch("http://user:pw@example.test/", {}, { allowlist: NOTHING_ALLOWED }))).toContain("user name or password");
  });
});
