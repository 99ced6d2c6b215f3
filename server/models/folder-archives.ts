// A folder model version as one ustar archive (gpu/io/tar.ts): how a Hugging Face folder travels
// through the single-artifact paths, down to a browser worker or a GPU node as a training run's parent,
// and back up as a run's result. Going down, the archive is built on the fly from the artifact store;
// coming up, it is unpacked from a temp file. Neither holds the folder in memory.
import { createHash, randomUUID } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { PrismaClient } from "@/server/db/generated/client";
import { DomainError } from "@/server/errors";
import { receiveToTempFile, type ArtifactStore } from "@/server/storage";
import { recordUpload, uploadedBy } from "@/server/storage/uploads";
import { isTar, parseTarHeader, tarHeader, TarError, TAR_BLOCK } from "@/gpu/io/tar";
import { checkedFolderReader, checkFolderFiles, checkManifest, describeHfFolder, FolderInvalid, storeFolderReader, type FolderDescription, type FolderFile } from "./folders";

/** The `x-hearth-artifact` header of a download that is a folder's archive (a checkpoint has none). */
export const FOLDER_ARCHIVE_ARTIFACT = "hf-folder-tar";

const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/** A folder whose files are in the artifact store, checked and described: ready to become a version. */
export interface StoredFolder {
  /** In path order. */
  files: FolderFile[];
  sizeBytes: number;
  description: FolderDescription;
}

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

/** Whether a local file starts like a ustar archive. */
export async function isTarFile(filePath: string): Promise<boolean> {
  const fh = await fsp.open(filePath, "r");
  try {
    const head = Buffer.alloc(TAR_BLOCK);
    const { bytesRead } = await fh.read(head, 0, TAR_BLOCK, 0);
    return isTar(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

interface ArchiveEntry {
  path: string;
  size: number;
  /** Where the file's bytes start in the archive. */
  offset: number;
}

/** The regular files of an archive on local disk, refusing truncated archives and links. */
async function archiveEntries(archivePath: string): Promise<ArchiveEntry[]> {
  const fh = await fsp.open(archivePath, "r");
  try {
    const { size: total } = await fh.stat();
    const entries: ArchiveEntry[] = [];
    const block = Buffer.alloc(TAR_BLOCK);
    let offset = 0;
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, TAR_BLOCK, offset);
      if (bytesRead < TAR_BLOCK) throw new FolderInvalid("The archive is truncated: it ends without the end-of-archive blocks. Send the whole archive again.");
      let header;
      try {
        header = parseTarHeader(block, offset);
      } catch (e) {
        if (e instanceof TarError) throw new FolderInvalid(`The archive is damaged: ${e.message}.`);
        throw e;
      }
      if (!header) return entries;
      const start = offset + TAR_BLOCK;
      if (start + header.size > total) throw new FolderInvalid(`The archive is truncated: "${header.name}" needs ${header.size} bytes and the archive ends first. Send the whole archive again.`);
      if (header.type === "0") entries.push({ path: header.name, size: header.size, offset: start });
      else if (header.type !== "5") {
        // Folders ("5") are implied by their files' paths; links and the like have no place in a model folder.
        throw new FolderInvalid(`"${header.name}" is not a regular file (tar type ${JSON.stringify(header.type)}): an archive of a model folder holds files and folders only.`);
      }
      offset = start + header.size + padding(header.size);
    }
  } finally {
    await fh.close();
  }
}

/**
 * Unpacks a folder archive (on local disk) into the artifact store. Before anything is stored, every
 * path is checked by the rules of a folder import's manifest and the folder by describeHfFolder, as a
 * folder import's commit checks it: a refused archive leaves nothing behind. Each file is then stored
 * content-addressed and recorded as the organization's upload.
 */
export async function unpackFolderArchive(owner: { db: Pick<PrismaClient, "artifactUpload">; orgId: string }, archivePath: string, store: ArtifactStore): Promise<StoredFolder> {
  const entries = await archiveEntries(archivePath);
  checkFolderFiles(entries);
  const entryOf = new Map(entries.map((e) => [e.path, e]));
  const fh = await fsp.open(archivePath, "r");
  let description: FolderDescription;
  try {
    description = await describeHfFolder(
      checkedFolderReader(new Map(entries.map((e) => [e.path, e.size])), async (name, start, end) => {
        const e = entryOf.get(name)!;
        const from = Math.min(Math.max(start, 0), e.size);
        const out = Buffer.alloc(Math.max(0, Math.min(end, e.size) - from));
        if (out.length) await fh.read(out, 0, out.length, e.offset + from);
        return out;
      }),
    );
  } finally {
    await fh.close();
  }
  const tempDir = path.join(os.tmpdir(), "hearth-uploads");
  const files: FolderFile[] = [];
  for (const e of entries) {
    const source = e.size === 0 ? Readable.from([]) : fs.createReadStream(archivePath, { start: e.offset, end: e.offset + e.size - 1 });
    const received = await receiveToTempFile(source, { maxBytes: e.size, tempDir });
    try {
      await store.putFile(received.tempPath, received.sha256);
      await recordUpload(owner.db, owner.orgId, received.sha256);
    } finally {
      await fsp.rm(received.tempPath, { force: true });
    }
    files.push({ path: e.path, sha256: received.sha256, size: e.size });
  }
  files.sort(byPath);
  return { files, sizeBytes: files.reduce((n, f) => n + f.size, 0), description };
}

// A GPU node sends a run's result in two calls (PUT the artifact, then complete naming it by sha256).
// For a folder, what the first call stores under that name is the folder's file list, not the
// archive: the files themselves are stored once, as an import stores them.
const MANIFEST_FORMAT = "hearth-folder-manifest/1";
const MANIFEST_MAX_BYTES = 1024 * 1024;

/** Stores a folder's file list as an artifact of its own; its sha256 names the folder in a later call. */
export async function storeFolderManifest(owner: { db: Pick<PrismaClient, "artifactUpload">; orgId: string }, folder: StoredFolder, store: ArtifactStore): Promise<{ sha256: string; sizeBytes: number }> {
  const bytes = Buffer.from(JSON.stringify({ format: MANIFEST_FORMAT, files: folder.files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })) }));
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const tempDir = path.join(os.tmpdir(), "hearth-uploads");
  await fsp.mkdir(tempDir, { recursive: true });
  const tempPath = path.join(tempDir, `manifest-${randomUUID()}`);
  await fsp.writeFile(tempPath, bytes);
  try {
    await store.putFile(tempPath, sha256);
  } finally {
    await fsp.rm(tempPath, { force: true });
  }
  await recordUpload(owner.db, owner.orgId, sha256);
  return { sha256, sizeBytes: bytes.length };
}

/**
 * The folder an artifact names, when it is a folder's file list (storeFolderManifest); null for any
 * other artifact (a checkpoint). The files must be this organization's uploads, in the store, and the
 * folder is checked and described again, exactly as an import's commit does.
 */
export async function folderOfManifest(db: Pick<PrismaClient, "artifactUpload">, orgId: string, sha256: string, store: ArtifactStore): Promise<StoredFolder | null> {
  const head = Buffer.from(`{"format":"${MANIFEST_FORMAT}"`);
  const chunks: Buffer[] = [];
  let length = 0;
  const stream = await store.open(sha256);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const before = length;
      chunks.push(chunk);
      length += chunk.length;
      // Decided by the first bytes: a checkpoint is not read any further.
      if (before < head.length && length >= head.length && !Buffer.concat(chunks).subarray(0, head.length).equals(head)) return null;
      if (length > MANIFEST_MAX_BYTES) return null;
    }
  } finally {
    stream.destroy();
  }
  const bytes = Buffer.concat(chunks);
  if (!bytes.subarray(0, head.length).equals(head)) return null;
  let manifest: { files?: unknown };
  try {
    manifest = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new DomainError("BAD_REQUEST", "The artifact looks like a folder's file list but is not valid JSON; upload the archive again.");
  }
  if (!Array.isArray(manifest.files)) throw new DomainError("BAD_REQUEST", "The folder's file list has no files; upload the archive again.");
  const listed = manifest.files as FolderFile[];
  checkManifest(listed);
  for (const f of listed) {
    if (!(await uploadedBy(db, orgId, f.sha256)) || !(await store.has(f.sha256))) {
      throw new DomainError("PRECONDITION_FAILED", `The folder's file "${f.path}" is not stored for this organization; upload the archive again.`);
    }
  }
  const files = [...listed].sort(byPath);
  const description = await describeHfFolder(storeFolderReader(store, new Map(files.map((f) => [f.path, f]))));
  return { files, sizeBytes: files.reduce((n, f) => n + f.size, 0), description };
}
