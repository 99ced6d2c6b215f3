// Outbound HTTP for URLs that people type (external endpoints): a server-side request forgery
// guard. Every hop is resolved once, every address it resolves to is checked, and the socket
// connects to the checked address (no second lookup, so no DNS-rebinding window). Redirects are
// followed by hand and each one is checked the same way. Loopback, private, link-local, CGNAT,
// multicast, reserved and cloud-metadata addresses are refused unless the operator's allowlist
// (HEARTH_ENDPOINT_ALLOWLIST) names them.
import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { blockedReason, embeddedIPv4, inCidr, parseAddress, parseCidr, type Cidr, type ParsedAddress } from "./addresses";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}
/** Resolves a host name to every address it has; tests inject their own. */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Names that reach a cloud provider's metadata service wherever they resolve from. */
const METADATA_NAMES = new Set(["metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"]);

export class SsrfRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SsrfRefused";
  }
}

/** A request that could not complete: network failure, timeout, too many redirects, too large. */
export class OutboundRequestError extends Error {
  constructor(
    readonly kind: "network" | "timeout" | "redirects" | "too-large" | "aborted",
    message: string,
  ) {
    super(message);
    this.name = "OutboundRequestError";
  }
}

// ---------------------------------------------------------------------------------------------
// The operator's allowlist

interface AllowEntry {
  /** A host name (lower case) or a range of addresses. */
  host?: string;
  cidr?: Cidr;
  port?: number;
  text: string;
}

export interface Allowlist {
  entries: AllowEntry[];
}

/**
 * Parses HEARTH_ENDPOINT_ALLOWLIST: comma- or space-separated entries, each an address
 * (127.0.0.1, ::1), a range (10.0.0.0/8, fd00::/8) or a host name (llm.internal), optionally
 * with a port (127.0.0.1:8000, [::1]:8000, localhost:3000). A host name entry trusts whatever that
 * name resolves to. Throws on an entry it cannot read, so a typo is not silently ignored.
 */
export function parseAllowlist(text: string | undefined): Allowlist {
  const entries: AllowEntry[] = [];
  for (const raw of (text ?? "").split(/[\s,]+/).filter(Boolean)) {
    let host = raw;
    let port: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw);
    const withPort = /^([^:]+):(\d+)$/.exec(raw);
    if (bracketed) [host, port] = [bracketed[1], bracketed[2] ? Number(bracketed[2]) : undefined];
    else if (withPort) [host, port] = [withPort[1], Number(withPort[2])];
    if (port !== undefined && !(port >= 1 && port <= 65535)) throw new Error(`HEARTH_ENDPOINT_ALLOWLIST: "${raw}" has an invalid port`);
    const cidr = parseCidr(host);
    if (cidr) entries.push({ cidr, port, text: raw });
    else if (/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\.?$/i.test(host)) entries.push({ host: host.toLowerCase().replace(/\.$/, ""), port, text: raw });
    else throw new Error(`HEARTH_ENDPOINT_ALLOWLIST: cannot read "${raw}" (use an address, a range like 10.0.0.0/8, or a host name, each optionally with :port)`);
  }
  return { entries };
}

let cachedAllowlist: { text: string | undefined; list: Allowlist } | undefined;
/** The allowlist from the environment, re-read when the variable changes. */
export function allowlistFromEnvironment(): Allowlist {
  const text = process.env.HEARTH_ENDPOINT_ALLOWLIST;
  if (!cachedAllowlist || cachedAllowlist.text !== text) cachedAllowlist = { text, list: parseAllowlist(text) };
  return cachedAllowlist.list;
}

function allowsName(list: Allowlist, hostname: string, port: number): boolean {
  return list.entries.some((e) => e.host === hostname && (e.port === undefined || e.port === port));
}

function allowsAddress(list: Allowlist, address: ParsedAddress, port: number): boolean {
  const forms = [address, embeddedIPv4(address)].filter((a): a is ParsedAddress => a !== null);
  return list.entries.some((e) => e.cidr && (e.port === undefined || e.port === port) && forms.some((a) => inCidr(a, e.cidr!)));
}

// ---------------------------------------------------------------------------------------------
// Checking one destination

export interface GuardOptions {
  resolver?: Resolver;
  allowlist?: Allowlist;
}

export interface CheckedDestination {
  url: URL;
  /** The checked addresses the socket may connect to (tried in order). */
  addresses: ResolvedAddress[];
}

function defaultPort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/**
 * Resolves the URL's host and refuses it when any address it resolves to is one the server must
 * not reach (and the allowlist does not name it). Returns the address to connect to.
 */
export async function checkDestination(url: URL, options: GuardOptions = {}): Promise<CheckedDestination> {
  const allowlist = options.allowlist ?? allowlistFromEnvironment();
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new SsrfRefused(`Only http and https URLs are allowed, not ${url.protocol}`);
  if (url.username || url.password) throw new SsrfRefused("The URL must not contain a user name or password; put the key in the endpoint's key field.");
  const hostname = url.hostname.replace(/^\[|\]$/g, "").toLowerCase().replace(/\.$/, "");
  const port = defaultPort(url);
  const nameAllowed = allowsName(allowlist, hostname, port);
  if (!nameAllowed && METADATA_NAMES.has(hostname)) throw new SsrfRefused(`${hostname} is a cloud metadata service; Hearth does not send requests there.`);

  const literal = parseAddress(hostname);
  let resolved: ResolvedAddress[];
  if (literal) resolved = [{ address: hostname, family: literal.family }];
  else {
    try {
      resolved = await (options.resolver ?? systemResolver)(hostname);
    } catch (error) {
      throw new OutboundRequestError("network", `Could not resolve ${hostname}: ${(error as Error).message}`);
    }
    if (resolved.length === 0) throw new OutboundRequestError("network", `${hostname} has no addresses.`);
  }
  for (const r of resolved) {
    const parsed = parseAddress(r.address);
    if (!parsed) throw new SsrfRefused(`${hostname} resolved to "${r.address}", which is not an IP address.`);
    if (nameAllowed || allowsAddress(allowlist, parsed, port)) continue;
    const reason = blockedReason(parsed);
    if (reason) {
      const via = literal ? `${r.address} is` : `${hostname} resolves to ${r.address},`;
      throw new SsrfRefused(`${via} a ${reason} address; Hearth refuses to send requests there unless the operator allowlists it (HEARTH_ENDPOINT_ALLOWLIST).`);
    }
  }
  return { url, addresses: resolved };
}

// ---------------------------------------------------------------------------------------------
// Guarded requests

export interface GuardedRequest {
  method?: "GET" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Cancels the request (a run being cancelled). */
  signal?: AbortSignal;
  /** The whole request, redirects included, fails with kind "timeout" after this long. */
  timeoutMs?: number;
  /** Redirects followed at most (default 5); each is checked like the first URL. */
  maxRedirects?: number;
  /** Larger responses are cut off with an error (default 16 MiB). */
  maxResponseBytes?: number;
}

export interface GuardedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  body: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const CREDENTIAL_HEADERS = ["authorization", "cookie", "proxy-authorization", "api-key", "x-api-key"];

/** Sends a request through the guard, following redirects by hand and re-checking every hop. */
export async function guardedFetch(input: string | URL, request: GuardedRequest = {}, options: GuardOptions = {}): Promise<GuardedResponse> {
  let url = new URL(input);
  let method = request.method ?? "GET";
  let body = request.body;
  let headers = { ...request.headers };
  const maxRedirects = request.maxRedirects ?? 5;
  const deadline = request.timeoutMs === undefined ? Infinity : performance.now() + request.timeoutMs;
  for (let hop = 0; ; hop++) {
    const destination = await checkDestination(url, options);
    const response = await sendOnce(destination, method, headers, body, request, deadline);
    const location = response.headers.location;
    if (!REDIRECTS.has(response.status) || !location) return response;
    if (hop >= maxRedirects) throw new OutboundRequestError("redirects", `Stopped after ${maxRedirects} redirects (last: ${url.origin}).`);
    const next = new URL(location, url);
    // Credentials were meant for the first origin only.
    if (next.origin !== url.origin) headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !CREDENTIAL_HEADERS.includes(k.toLowerCase())));
    if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
      method = "GET";
      body = undefined;
      headers = Object.fromEntries(Object.entries(headers).filter(([k]) => !["content-type", "content-length"].includes(k.toLowerCase())));
    }
    url = next;
  }
}

function sendOnce(
  destination: CheckedDestination,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  request: GuardedRequest,
  deadline: number,
): Promise<GuardedResponse> {
  const { url, addresses } = destination;
  const maxBytes = request.maxResponseBytes ?? 16 * 1024 * 1024;
  // The socket connects to the addresses checked above, whatever the name resolves to by now.
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    if (lookupOptions.all) (callback as unknown as (e: null, a: ResolvedAddress[]) => void)(null, addresses);
    else callback(null, addresses[0].address, addresses[0].family);
  };
  const transport = url.protocol === "https:" ? https : http;
  return new Promise<GuardedResponse>((resolveOnce, rejectOnce) => {
    if (request.signal?.aborted) return rejectOnce(abortError(request.signal));
    // A plain timer (not AbortSignal.any/timeout, whose composite signals Node 20 can collect while in use).
    let timer: NodeJS.Timeout | undefined;
    const settle = <T>(fn: (value: T) => void) => (value: T) => {
      clearTimeout(timer);
      fn(value);
    };
    const resolve = settle(resolveOnce);
    const reject = settle(rejectOnce);
    const req = transport.request(
      url,
      {
        method,
        headers: { ...headers, ...(body !== undefined ? { "content-length": String(Buffer.byteLength(body)) } : {}) },
        lookup: pinned,
        agent: false,
        signal: request.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let ended = false;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            reject(new OutboundRequestError("too-large", `The response from ${url.origin} is larger than ${maxBytes} bytes.`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          ended = true;
          resolve({ status: res.statusCode ?? 0, headers: res.headers, url: url.toString(), body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", (error) => reject(networkError(url, error, request.signal)));
        res.on("close", () => {
          if (!ended) reject(networkError(url, new Error("the connection closed before the response ended"), request.signal));
        });
      },
    );
    req.on("error", (error) => reject(networkError(url, error, request.signal)));
    if (deadline !== Infinity) {
      timer = setTimeout(() => {
        reject(new OutboundRequestError("timeout", "The request timed out."));
        req.destroy();
      }, Math.max(0, deadline - performance.now()));
    }
    req.end(body);
  });
}

function abortError(signal: AbortSignal): OutboundRequestError {
  const reason = signal.reason as Error | undefined;
  return reason?.name === "TimeoutError" ? new OutboundRequestError("timeout", "The request timed out.") : new OutboundRequestError("aborted", "The request was cancelled.");
}


function networkError(url: URL, error: Error, signal: AbortSignal | undefined): OutboundRequestError {
  if (signal?.aborted) return abortError(signal);
  const code = (error as NodeJS.ErrnoException).code;
  return new OutboundRequestError("network", `Could not reach ${url.origin}: ${code ?? error.message}`);
}
