// Where artifacts (dataset files, checkpoints) live: content-addressed by sha256, behind one interface
// with a filesystem store (default, under the data directory) and an S3-compatible one.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { S3ArtifactStore, s3SettingsFromEnvironment } from "./s3";
import type { ArtifactStore, StoredArtifact } from "./artifact-store";
import { processSingleton } from "../lib/process-singleton";

export type { ArtifactStore, StoredArtifact } from "./artifact-store";

const SHA256 = /^[0-9a-f]{64}$/;

export function assertSha256(sha256: string): void {
  if (!SHA256.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
}

export class FileArtifactStore implements ArtifactStore {
  constructor(readonly root: string) {}

  private pathOf(sha256: string): string {
    assertSha256(sha256);
    return path.join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  async putFile(localPath: string, sha256: string): Promise<void> {
    const target = this.pathOf(sha256);
    if (await this.has(sha256)) return;
    await fsp.mkdir(path.dirname(target), { recursive: true });
    // Copy then rename: a reader never sees a half-written artifact.
    const partial = `${target}.${randomBytes(4).toString("hex")}.partial`;
    await fsp.copyFile(localPath, partial);
    await fsp.rename(partial, target);
  }

  async open(sha256: string): Promise<Readable> {
    const file = this.pathOf(sha256);
    await fsp.access(file);
    return fs.createReadStream(file);
  }

  async has(sha256: string): Promise<boolean> {
    return fsp.access(this.pathOf(sha256)).then(
      () => true,
      () => false,
    );
  }

  async delete(sha256: string): Promise<void> {
    await fsp.rm(this.pathOf(sha256), { force: true });
  }
}

/** The configured store, one per process: S3-compatible when HEARTH_S3_BUCKET is set, else files under the data directory. */
export function getArtifactStore(): ArtifactStore {
  const s3 = s3SettingsFromEnvironment();
  return processSingleton<ArtifactStore>("hearth.artifactStore", () =>
    s3 ? new S3ArtifactStore(s3) : new FileArtifactStore(path.join(process.env.HEARTH_DATA_DIR ?? path.resolve("data"), "artifacts")),
  );
}

/** Streams a body to a temp file while hashing and measuring it; `inspect` sees each chunk (for validation). */
export async function receiveToTempFile(
  body: ReadableStream<Uint8Array> | Readable,
  options: { maxBytes: number; tempDir: string; inspect?: (chunk: Buffer) => void },
): Promise<StoredArtifact & { tempPath: string }> {
  await fsp.mkdir(options.tempDir, { recursive: true });
  const tempPath = path.join(options.tempDir, `upload-${randomBytes(8).toString("hex")}`);
  const hash = createHash("sha256");
  let bytes = 0;
  const source = body instanceof Readable ? body : Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>);
  try {
    await pipeline(
      source,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          bytes += chunk.length;
          // inspect first: it may raise the limit (a model result that turns out to be a folder archive)
          options.inspect?.(chunk);
          if (bytes > options.maxBytes) throw new UploadTooLarge(options.maxBytes);
          hash.update(chunk);
          yield chunk;
        }
      },
      fs.createWriteStream(tempPath),
    );
  } catch (error) {
    await fsp.rm(tempPath, { force: true });
    throw error;
  }
  return { tempPath, sha256: hash.digest("hex"), bytes };
}

export class UploadTooLarge extends Error {
  constructor(readonly maxBytes: number) {
    super(`The upload is larger than the limit of ${maxBytes} bytes.`);
  }
}
