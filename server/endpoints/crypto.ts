// Secrets at rest (external endpoints' API keys): AES-256-GCM under the server key. The server key
// is HEARTH_SECRET_KEY (32 bytes, base64 or hex), or one generated at first use and kept in
// $HEARTH_DATA_DIR/secret.key (mode 0600), apart from the database, so a database dump or backup
// alone does not reveal the keys. Instances sharing a database must share HEARTH_SECRET_KEY.
// The key is never logged; ciphertexts carry a key id so a mismatch is reported as such.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const FORMAT = "v1";
const KEY_FILE = "secret.key";

export class SecretKeyMismatch extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretKeyMismatch";
  }
}

interface ServerKey {
  key: Buffer;
  /** A public fingerprint of the key, stored beside each ciphertext. */
  id: string;
}

let cached: { source: string; key: ServerKey } | undefined;

function decodeKey(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) throw new Error(`${where} must be 32 bytes in base64 or hex (generate one with: openssl rand -base64 32)`);
  return key;
}

function withId(key: Buffer): ServerKey {
  return { key, id: createHash("sha256").update("hearth-server-key-id\0").update(key).digest("hex").slice(0, 12) };
}

/**
 * Writes `contents` to `file` (mode 0600) unless it exists, and returns what the file holds: linking a
 * finished temp file makes concurrent first starts agree on one value.
 */
export function writeKeyFileOnce(file: string, contents: string): string {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    fs.writeFileSync(temp, contents, { mode: 0o600 });
    try {
      fs.linkSync(temp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    } finally {
      fs.rmSync(temp, { force: true });
    }
  }
  return fs.readFileSync(file, "utf8");
}

/** Reads the key file, or creates it. */
function keyFromDataDir(dataDir: string): Buffer {
  const file = path.join(dataDir, KEY_FILE);
  return decodeKey(fs.existsSync(file) ? fs.readFileSync(file, "utf8") : writeKeyFileOnce(file, randomBytes(32).toString("base64") + "\n"), file);
}

export function serverKey(): ServerKey {
  const fromEnv = process.env.HEARTH_SECRET_KEY;
  // A runtime folder, not a source: telling the bundler so keeps it from tracing the whole project.
  const dataDir = path.resolve(/*turbopackIgnore: true*/ process.env.HEARTH_DATA_DIR ?? "data"); // as server/storage does
  const source = fromEnv ? `env:${createHash("sha256").update(fromEnv).digest("hex")}` : `dir:${dataDir}`;
  if (cached?.source === source) return cached.key;
  let key: Buffer;
  if (fromEnv) key = decodeKey(fromEnv, "HEARTH_SECRET_KEY");
  else key = keyFromDataDir(dataDir);
  cached = { source, key: withId(key) };
  return cached.key;
}

/** Encrypts `plaintext`; `context` (e.g. "endpoint:<id>") binds the ciphertext to its record. */
export function encryptSecret(plaintext: string, context: string): string {
  const { key, id } = serverKey();
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return [FORMAT, id, iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), body.toString("base64url")].join(".");
}

export function decryptSecret(ciphertext: string, context: string): string {
  const [format, id, iv, tag, body] = ciphertext.split(".");
  if (format !== FORMAT || body === undefined) throw new Error("Unreadable secret: unknown format.");
  const { key, id: current } = serverKey();
  if (id !== current) {
    throw new SecretKeyMismatch(`This secret was encrypted under server key ${id}, but this instance has ${current}: set the same HEARTH_SECRET_KEY on every instance, or enter the secret again.`);
  }
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(body, "base64url")), decipher.final()]).toString("utf8");
}

/** What an endpoint's API key is encrypted for (bound into the ciphertext). */
export const endpointKeyContext = (endpointId: string) => `endpoint:${endpointId}`;
