// What every artifact store (local files, S3) offers: content-addressed files by sha256.
import type { Readable } from "node:stream";

export interface StoredArtifact {
  sha256: string;
  bytes: number;
}

export interface ArtifactStore {
  /** Stores a file already written to local disk under its sha256 (a no-op when it is already stored). */
  putFile(localPath: string, sha256: string): Promise<void>;
  open(sha256: string): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
  /** Removes an artifact (a no-op when it is not stored). Callers check that nothing refers to it. */
  delete(sha256: string): Promise<void>;
}
