// IP address ranges for the SSRF guard: which addresses an outbound request may never reach
// (unless the operator allowlists them), and CIDR matching for the allowlist. Plain byte
// arithmetic on 4- or 16-byte addresses, so every IPv4 form Node accepts and every IPv6 form
// (compressed, with an embedded dotted quad, IPv4-mapped) compare the same way.
import net from "node:net";

export interface ParsedAddress {
  family: 4 | 6;
  bytes: Uint8Array;
}

export interface Cidr extends ParsedAddress {
  prefix: number;
}

/** Parses an IP literal (no brackets, no zone); null when it is not one. */
export function parseAddress(text: string): ParsedAddress | null {
  const kind = net.isIP(text);
  if (kind === 4) return { family: 4, bytes: Uint8Array.from(text.split(".").map(Number)) };
  if (kind !== 6) return null;
  let head = text;
  const tailBytes: number[] = [];
  // An embedded dotted quad (::ffff:1.2.3.4) is the last 32 bits.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    tailBytes.push(...dotted[1].split(".").map(Number));
    head = text.slice(0, -dotted[1].length) + "0:0";
  }
  const [left, right] = head.includes("::") ? head.split("::") : [head, null];
  const groupsOf = (part: string) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const l = groupsOf(left);
  const r = right === null ? [] : groupsOf(right);
  const groups = right === null ? l : [...l, ...new Array<number>(8 - l.length - r.length).fill(0), ...r];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tailBytes.length) bytes.set(tailBytes, 12);
  return { family: 6, bytes };
}

export function parseCidr(text: string): Cidr | null {
  const [addr, bits, extra] = text.split("/");
  if (extra !== undefined) return null;
  const parsed = parseAddress(addr);
  if (!parsed) return null;
  const max = parsed.family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { ...parsed, prefix };
}

export function inCidr(address: ParsedAddress, cidr: Cidr): boolean {
  if (address.family !== cidr.family) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address.bytes[i] & mask) !== (cidr.bytes[i] & mask)) return false;
  }
  return true;
}

/**
 * The IPv4 address inside an IPv6 one that carries it (IPv4-mapped, IPv4-compatible, NAT64,
 * 6to4), so ::ffff:127.0.0.1 or 64:ff9b::a9fe:a9fe is judged as the IPv4 address it reaches.
 */
export function embeddedIPv4(address: ParsedAddress): ParsedAddress | null {
  if (address.family !== 6) return null;
  const b = address.bytes;
  const v4 = (offset: number): ParsedAddress => ({ family: 4, bytes: b.slice(offset, offset + 4) });
  const zeros = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zeros(0, 12) && !zeros(12, 14)) return v4(12); // ::a.b.c.d (deprecated compatible form; not :: or ::1)
  if (inCidr(address, NAT64) || inCidr(address, NAT64_LOCAL)) return v4(12);
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 6to4 2002:AABB:CCDD::
  return null;
}

const NAT64 = parseCidr("64:ff9b::/96")!;
const NAT64_LOCAL = parseCidr("64:ff9b:1::/48")!;

/** Most specific first: the first match names the reason given to the user. */
const BLOCKED: [string, string][] = [
  ["169.254.169.254/32", "cloud metadata"],
  ["169.254.170.2/32", "cloud metadata"],
  ["100.100.100.200/32", "cloud metadata"],
  ["fd00:ec2::254/128", "cloud metadata"],
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "carrier-grade NAT"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "IETF special-purpose"],
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "6to4 relay"],
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["100::/64", "discard-only"],
  ["2001::/32", "Teredo tunnel"],
  ["2001:db8::/32", "documentation"],
  ["fc00::/7", "unique local (private)"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local"],
  ["ff00::/8", "multicast"],
];
const BLOCKED_RANGES = BLOCKED.map(([cidr, reason]) => ({ cidr: parseCidr(cidr)!, reason }));

/** Why an outbound request must not reach this address, or null when it is a public address. */
export function blockedReason(address: ParsedAddress): string | null {
  const inner = embeddedIPv4(address);
  if (inner) return blockedReason(inner);
  for (const { cidr, reason } of BLOCKED_RANGES) if (inCidr(address, cidr)) return reason;
  return null;
}
