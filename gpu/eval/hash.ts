// Hashes of published suite versions: the same JSON value hashes the same in every runtime.

/**
 * JSON with object keys sorted (by UTF-16 code units) at every level and no whitespace.
 * Like JSON.stringify, undefined properties are omitted; non-finite numbers are refused so a
 * hash never silently covers a lossy value.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, out, 0);
  return out.join("");
}

function write(value: unknown, out: string[], depth: number): void {
  if (depth > 1000) throw new Error("canonicalJson: value is nested too deeply");
  if (value === null) return void out.push("null");
  switch (typeof value) {
    case "string":
    case "boolean":
      return void out.push(JSON.stringify(value));
    case "number":
      if (!Number.isFinite(value)) throw new Error(`canonicalJson: ${value} is not representable in JSON`);
      return void out.push(JSON.stringify(value));
    case "object": {
      if (Array.isArray(value)) {
        out.push("[");
        value.forEach((item, k) => {
          if (k > 0) out.push(",");
          if (item === undefined || typeof item === "function") out.push("null");
          else write(item, out, depth + 1);
        });
        return void out.push("]");
      }
      const json = (value as { toJSON?: () => unknown }).toJSON;
      if (typeof json === "function") return write(json.call(value), out, depth + 1);
      const keys = Object.keys(value).filter((k) => {
        const v = (value as Record<string, unknown>)[k];
        return v !== undefined && typeof v !== "function";
      }).sort();
      out.push("{");
      keys.forEach((k, i) => {
        if (i > 0) out.push(",");
        out.push(JSON.stringify(k), ":");
        write((value as Record<string, unknown>)[k], out, depth + 1);
      });
      return void out.push("}");
    }
    default:
      throw new Error(`canonicalJson: cannot encode a ${typeof value}`);
  }
}

/** Lower-case hex SHA-256 of the UTF-8 bytes of text (Web Crypto: browsers, workers, Node). */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
