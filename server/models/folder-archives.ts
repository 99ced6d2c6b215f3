// A folder model version as one ustar archive (gpu/io/tar.ts): how a Hugging Face folder travels
// through the single-artifact paths, down to a browser worker or a GPU node as a training run's parent.
// The archive is built on the fly from the artifact store, never held in memory.
import { Readable } from "node:stream";
import { DomainError } from "@/server/errors";
import type { ArtifactStore } from "@/server/storage";
import { tarHeader, TarError, TAR_BLOCK } from "@/gpu/io/tar";
import type { FolderFile } from "./folders";

/** The `x-hearth-artifact` header of a download that is a folder's archive (a checkpoint has none). */
export const FOLDER_ARCHIVE_ARTIFACT = "hf-folder-tar";

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/**
 * The archive of a folder version's files, in path order: its exact length, and a stream that reads
 * each file from the store only when the reader gets to it.
 */
export function folderArchiveStream(store: ArtifactStore, files: FolderFile[]): { sizeBytes: number; stream: Readable } {
  const ordered = [...files].sort(byPath);
  // Headers first: a name tar cannot hold fails before the response starts, not halfway through it.
  const headers = ordered.map((f) => {
    try {
      return Buffer.from(tarHeader(f.path, f.size));
    } catch (e) {
      if (e instanceof TarError) throw new DomainError("PRECONDITION_FAILED", `This model version cannot be sent as one archive (${e.message}); download its files one by one.`);
      throw e;
    }
  });
  const sizeBytes = ordered.reduce((n, f) => n + TAR_BLOCK + f.size + padding(f.size), 2 * TAR_BLOCK);
  async function* blocks() {
    for (const [i, f] of ordered.entries()) {
      yield headers[i];
      let sent = 0;
      for await (const chunk of await store.open(f.sha256)) {
        sent += (chunk as Buffer).length;
        if (sent > f.size) throw new Error(`the stored ${f.path} (${f.sha256}) is longer than its ${f.size} bytes`);
        yield chunk as Buffer;
      }
      if (sent !== f.size) throw new Error(`the stored ${f.path} (${f.sha256}) is ${sent} bytes, not ${f.size}`);
      if (padding(f.size)) yield Buffer.alloc(padding(f.size));
    }
    yield Buffer.alloc(2 * TAR_BLOCK);
  }
  return { sizeBytes, stream: Readable.from(blocks(), { objectMode: false }) };
}

/** The HTTP answer carrying a folder version's archive (the web download and the node API share it). */
export function folderArchiveResponse(store: ArtifactStore, files: FolderFile[], headers: Record<string, string> = {}): Response {
  const { sizeBytes, stream } = folderArchiveStream(store, files);
  return new Response(Readable.toWeb(stream) as ReadableStream, {
    headers: { "content-type": "application/x-tar", "content-length": String(sizeBytes), "x-hearth-artifact": FOLDER_ARCHIVE_ARTIFACT, ...headers },
  });
}
