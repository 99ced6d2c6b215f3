// An S3-compatible artifact store (AWS S3, MinIO, Ceph...) spoken directly with Signature V4 over fetch,
// so no SDK is needed and nothing but the configured endpoint is contacted.
import { createHash, createHmac } from "node:crypto";
import fs from "node:fs";
import { Readable } from "node:stream";
import type { ArtifactStore } from "./artifact-store";

export interface S3Settings {
  endpoint: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  prefix: string;
}

export function s3SettingsFromEnvironment(env: NodeJS.ProcessEnv = process.env): S3Settings | null {
  if (!env.HEARTH_S3_BUCKET) return null;
  const missing = ["HEARTH_S3_ENDPOINT", "HEARTH_S3_ACCESS_KEY_ID", "HEARTH_S3_SECRET_ACCESS_KEY"].filter((name) => !env[name]);
  if (missing.length) throw new Error(`HEARTH_S3_BUCKET is set but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not.`);
  return {
    endpoint: env.HEARTH_S3_ENDPOINT!.replace(/\/$/, ""),
    bucket: env.HEARTH_S3_BUCKET,
    region: env.HEARTH_S3_REGION ?? "us-east-1",
    accessKeyId: env.HEARTH_S3_ACCESS_KEY_ID!,
    secretAccessKey: env.HEARTH_S3_SECRET_ACCESS_KEY!,
    prefix: env.HEARTH_S3_PREFIX ?? "artifacts/",
  };
}

const hex = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (keyBytes: string | Buffer, data: string) => createHmac("sha256", keyBytes).update(data).digest();

export interface SignV4Input {
  method: string;
  url: URL;
  /** Headers to sign besides host, x-amz-date and x-amz-content-sha256 (lower-case names). */
  headers?: Record<string, string>;
  payloadSha256: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  now?: Date;
}

/** AWS Signature Version 4 for S3 (service "s3"), returning every header to send. */
export function signV4(input: SignV4Input): Record<string, string> {
  const amzDate = (input.now ?? new Date()).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers, host: input.url.host, "x-amz-content-sha256": input.payloadSha256, "x-amz-date": amzDate };
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(";");
  const canonicalHeaders = names.map((h) => `${h}:${headers[h].trim()}\n`).join("");
  const query = [...input.url.searchParams].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
  const canonical = `${input.method}\n${input.url.pathname}\n${query}\n${canonicalHeaders}\n${signedHeaders}\n${input.payloadSha256}`;
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, hex(canonical)].join("\n");
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${input.secretAccessKey}`, day), input.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", signingKey).update(toSign).digest("hex");
  return { ...headers, authorization: `AWS4-HMAC-SHA256 Credential=${input.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };
}

/** A signed path-style request for one object. */
export function signS3Request(settings: S3Settings, method: string, objectKey: string, payloadSha256: string, now = new Date()) {
  const url = new URL(`${settings.endpoint}/${settings.bucket}/${objectKey.split("/").map(encodeURIComponent).join("/")}`);
  return { url: url.toString(), headers: signV4({ method, url, payloadSha256, region: settings.region, accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, now }) };
}

export class S3ArtifactStore implements ArtifactStore {
  constructor(readonly settings: S3Settings) {}

  private key(sha256: string) {
    return `${this.settings.prefix}${sha256}`;
  }

  async putFile(localPath: string, sha256: string): Promise<void> {
    if (await this.has(sha256)) return;
    const { size } = await fs.promises.stat(localPath);
    const request = signS3Request(this.settings, "PUT", this.key(sha256), sha256);
    const response = await fetch(request.url, {
      method: "PUT",
      headers: { ...request.headers, "content-length": String(size) },
      body: Readable.toWeb(fs.createReadStream(localPath)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    if (!response.ok) throw new Error(`S3 PUT failed with HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`);
  }

  async open(sha256: string): Promise<Readable> {
    const request = signS3Request(this.settings, "GET", this.key(sha256), hex(""));
    const response = await fetch(request.url, { headers: request.headers });
    if (!response.ok || !response.body) throw new Error(`S3 GET failed with HTTP ${response.status}`);
    return Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  }

  async has(sha256: string): Promise<boolean> {
    const request = signS3Request(this.settings, "HEAD", this.key(sha256), hex(""));
    const response = await fetch(request.url, { method: "HEAD", headers: request.headers });
    if (response.status === 404) return false;
    if (!response.ok) throw new Error(`S3 HEAD failed with HTTP ${response.status}`);
    return true;
  }

  async delete(sha256: string): Promise<void> {
    const request = signS3Request(this.settings, "DELETE", this.key(sha256), hex(""));
    const response = await fetch(request.url, { method: "DELETE", headers: request.headers });
    // S3 answers 204 whether or not the object existed.
    if (!response.ok && response.status !== 404) throw new Error(`S3 DELETE failed with HTTP ${response.status}`);
  }
}
