// Model versions as Hugging Face folders: imported file by file (each checked against the sha256 the
// client announced), committed as one version when the last file has arrived and the folder checks
// out (config, tokenizer, every tensor's name and shape), downloaded file by file. An interrupted
// upload resumes where it stopped (the same manifest finds the same upload); a refused or expired one
// leaves nothing behind.
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { parse as parseYaml } from "yaml";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { actorId } from "@/contracts/actor";
import type { FolderDescription } from "@/contracts/model-folder";

export type { FolderDescription } from "@/contracts/model-folder";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { jsonValue } from "@/server/db/json";
import { getArtifactStore, receiveToTempFile, UploadTooLarge, type ArtifactStore } from "@/server/storage";
import { recordUpload } from "@/server/storage/uploads";
import { decoderTensorShapes, HFConfigError, parseHFConfig, type DecoderConfig } from "@/gpu/nn/hf-config";
import { hfWeightFiles, readFolderText, type FolderReader } from "@/gpu/io/hf-folder";
import { parseSafetensorsHeader, safetensorsHeaderLength, SafetensorsError, type SafetensorsDType } from "@/gpu/io/safetensors";
import { HfTokenizerError } from "@/gpu/tokenizer/hf-tokenizer";
import { loadFolderTokenizer } from "@/gpu/nn/hf-load";
import { createModelVersionIn } from "./service";

/** The largest file of a folder (each shard); the folder as a whole may hold many. */
export const MAX_FOLDER_FILE_BYTES = Number(process.env.HEARTH_MAX_MODEL_BYTES ?? 1024 ** 3);
/** The largest folder (all files together). */
export const MAX_FOLDER_BYTES = Number(process.env.HEARTH_MAX_MODEL_FOLDER_BYTES ?? 64 * 1024 ** 3);
/** Weights above this run on GPU nodes only: a browser adapter's buffers and memory stop short of it. */
export const BROWSER_MAX_WEIGHT_BYTES = Number(process.env.HEARTH_BROWSER_MAX_WEIGHT_BYTES ?? 2 * 1024 ** 3);
const MAX_FILES = 256;
const UPLOAD_TTL_MS = 24 * 3600 * 1000;

const PATH_RE = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9][A-Za-z0-9._-]{0,127}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}){0,3}$/;

export interface FolderFile {
  path: string;
  sha256: string;
  size: number;
}

export interface FolderLineage {
  runId?: string;
  datasetVersionId?: string;
  parentVersionId?: string;
}


export class FolderInvalid extends DomainError {
  constructor(message: string) {
    super("BAD_REQUEST", message);
  }
}

export function manifestHash(files: FolderFile[]): string {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : 1));
  return createHash("sha256").update(JSON.stringify(sorted.map((f) => [f.path, f.sha256, f.size]))).digest("hex");
}

/** Checks the announced list before anything is stored: names, sizes, hashes, the files Hearth needs. */
export function checkManifest(files: FolderFile[]): void {
  for (const f of files) if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw new FolderInvalid(`"${f.path}": sha256 must be 64 lowercase hex digits.`);
  checkFolderFiles(files);
}

/**
 * The rules every folder's file list obeys, whichever way it arrives (a manifest announced before an
 * import, or the entries of an archive): names, how many, sizes, the files Hearth needs.
 */
export function checkFolderFiles(files: Array<{ path: string; size: number }>): void {
  if (files.length === 0) throw new FolderInvalid("The folder is empty.");
  if (files.length > MAX_FILES) throw new FolderInvalid(`A model folder holds at most ${MAX_FILES} files; this one has ${files.length}.`);
  const seen = new Set<string>();
  let total = 0;
  for (const f of files) {
    if (!PATH_RE.test(f.path)) throw new FolderInvalid(`"${f.path}" is not a file name Hearth accepts (letters, digits, . _ - and at most 4 folders deep).`);
    if (seen.has(f.path)) throw new FolderInvalid(`"${f.path}" is listed twice.`);
    seen.add(f.path);
    if (!Number.isSafeInteger(f.size) || f.size < 0) throw new FolderInvalid(`"${f.path}": size must be a whole number of bytes.`);
    if (f.size > MAX_FOLDER_FILE_BYTES) throw new FolderInvalid(`"${f.path}" is ${f.size} bytes; the largest file this server accepts is ${MAX_FOLDER_FILE_BYTES} bytes (HEARTH_MAX_MODEL_BYTES).`);
    total += f.size;
  }
  if (total > MAX_FOLDER_BYTES) throw new FolderInvalid(`The folder is ${total} bytes; this server accepts folders up to ${MAX_FOLDER_BYTES} bytes (HEARTH_MAX_MODEL_FOLDER_BYTES).`);
  if (!seen.has("config.json")) throw new FolderInvalid("The folder has no config.json: choose the model's folder itself (the one transformers' save_pretrained writes).");
  if (!seen.has("tokenizer.json")) throw new FolderInvalid("The folder has no tokenizer.json: Hearth needs the model's own tokenizer (save it with the model: tokenizer.save_pretrained(folder)).");
  if (!seen.has("model.safetensors") && !seen.has("model.safetensors.index.json")) {
    throw new FolderInvalid("The folder has no weights: it needs model.safetensors, or shards listed in model.safetensors.index.json (PyTorch .bin files are not read; save with safe_serialization).");
  }
}

/** A folder reader over files in the artifact store (by the manifest's hashes). */
export function storeFolderReader(store: ArtifactStore, files: Map<string, { sha256: string; size: number }>): FolderReader {
  return checkedFolderReader(new Map([...files].map(([name, f]) => [name, f.size])), async (name, start, end) => {
    const stream = (await store.open(files.get(name)!.sha256)) as Readable;
    const out = Buffer.alloc(Math.max(0, end - start));
    let pos = 0;
    let filled = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const from = Math.max(start - pos, 0);
      const to = Math.min(end - pos, chunk.length);
      if (to > from) {
        chunk.copy(out, filled, from, to);
        filled += to - from;
      }
      pos += chunk.length;
      if (pos >= end) break;
    }
    stream.destroy();
    return out.subarray(0, filled);
  });
}

/**
 * A folder reader over files of the given sizes, whatever holds their bytes (the artifact store, an
 * uploaded archive): a missing file or a file that is not JSON is a FolderInvalid naming it, so a
 * folder is refused with the same words wherever it came from.
 */
export function checkedFolderReader(sizes: Map<string, number>, readRange: (name: string, start: number, end: number) => Promise<Uint8Array>): FolderReader {
  const jsonOf = new Map<string, Promise<unknown>>();
  function known(name: string): number {
    const size = sizes.get(name);
    if (size === undefined) throw new FolderInvalid(`The folder has no ${name}.`);
    return size;
  }
  return {
    has: async (name) => sizes.has(name),
    size: async (name) => sizes.get(name) ?? 0,
    readRange: async (name, start, end) => {
      known(name);
      return readRange(name, start, end);
    },
    readJson: async (name) => {
      const size = known(name);
      if (!jsonOf.has(name)) {
        jsonOf.set(
          name,
          readRange(name, 0, size).then((bytes) => {
            try {
              return JSON.parse(Buffer.from(bytes).toString("utf8"));
            } catch (e) {
              throw new FolderInvalid(`${name} is not valid JSON (${(e as Error).message}).`);
            }
          }),
        );
      }
      return jsonOf.get(name)!;
    },
  };
}

/** The license a model card's front matter declares (`license: apache-2.0`), if any. */
function licenseOf(readme: string | null, config: Record<string, unknown>): string | null {
  if (typeof config.license === "string") return config.license;
  const m = readme && /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme);
  if (!m) return null;
  try {
    const front = parseYaml(m[1]) as Record<string, unknown> | null;
    const lic = front?.license;
    return typeof lic === "string" ? lic : Array.isArray(lic) ? lic.join(", ") : null;
  } catch {
    return null;
  }
}

const DTYPE_BYTES: Partial<Record<SafetensorsDType, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/**
 * Checks that a folder is a model Hearth can run and describes it: the config parses (an unsupported
 * architecture is refused by field), the tokenizer loads (an unsupported component by name), every
 * tensor the config needs is in the weights with its shape, no shard is truncated.
 */
export async function describeHfFolder(reader: FolderReader): Promise<FolderDescription> {
  const rawConfig = (await reader.readJson("config.json")) as Record<string, unknown>;
  let config;
  try {
    config = parseHFConfig(rawConfig as never);
  } catch (e) {
    if (e instanceof HFConfigError) throw new FolderInvalid(`config.json: ${e.message}`);
    throw e;
  }
  let tokenizer;
  try {
    tokenizer = await loadFolderTokenizer(reader);
  } catch (e) {
    if (e instanceof HfTokenizerError || e instanceof SyntaxError) throw new FolderInvalid(`tokenizer: ${(e as Error).message}`);
    throw e;
  }
  const expected = config.modelType === "gpt2" ? null : new Map(decoderTensorShapes(config as DecoderConfig));
  const found = new Map<string, number[]>();
  const dtypeCount = new Map<string, number>();
  let weightBytes = 0;
  let parameters = 0;
  let files: string[];
  try {
    files = await hfWeightFiles(reader);
  } catch (e) {
    throw new FolderInvalid((e as Error).message);
  }
  for (const file of files) {
    if (!(await reader.has(file))) throw new FolderInvalid(`model.safetensors.index.json names the shard ${file}, which the folder does not hold.`);
    const size = await reader.size(file);
    let entries;
    try {
      const headerLen = safetensorsHeaderLength(await reader.readRange(file, 0, Math.min(8, size)), size);
      ({ entries } = parseSafetensorsHeader(await reader.readRange(file, 8, 8 + headerLen), size - 8 - headerLen));
    } catch (e) {
      if (e instanceof SafetensorsError) throw new FolderInvalid(`${file}: ${e.message} (is the file complete?)`);
      throw e;
    }
    for (const [name, e] of entries) {
      found.set(name, e.shape);
      const n = e.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      weightBytes += e.end - e.begin;
      dtypeCount.set(e.dtype, (dtypeCount.get(e.dtype) ?? 0) + n);
      if (!DTYPE_BYTES[e.dtype]) throw new FolderInvalid(`${file}: tensor "${name}" is ${e.dtype}; Hearth reads F32, F16 and BF16 weights (quantized checkpoints are not supported).`);
    }
  }
  if (expected) {
    for (const [name, shape] of expected) {
      const got = found.get(name);
      if (!got) throw new FolderInvalid(`The weights lack "${name}" ([${shape.join(", ")}]), which config.json needs.`);
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        throw new FolderInvalid(`Tensor "${name}" is [${got.join(", ")}] but config.json needs [${shape.join(", ")}].`);
      }
    }
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new FolderInvalid(`The tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}.`);
  }
  const dtype = [...dtypeCount].sort((a, b) => b[1] - a[1]).map(([d]) => d).join(", ");
  return {
    format: "hf-folder",
    modelType: config.modelType,
    architecture: Array.isArray(rawConfig.architectures) ? String(rawConfig.architectures[0]) : null,
    parameters,
    dtype,
    contextLength: config.modelType === "gpt2" ? config.blockSize : config.maxPositions,
    license: licenseOf(await readFolderText(reader, "README.md"), rawConfig),
    vocabSize: config.vocabSize,
    hasChatTemplate: tokenizer.chatTemplate !== null,
    weightBytes,
    browser: weightBytes <= BROWSER_MAX_WEIGHT_BYTES,
  };
}

type UploadRow = { id: string; modelId: string; files: Prisma.JsonValue; received: string[]; lineage: Prisma.JsonValue; createdById: string; expiresAt: Date };

function filesOf(row: UploadRow): FolderFile[] {
  return row.files as unknown as FolderFile[];
}

/** The files among these that this organization has uploaded itself (it need not send them again). */
async function knownInOrg(db: PrismaClient, orgId: string, sha256s: string[]): Promise<Set<string>> {
  const rows = await db.artifactUpload.findMany({ where: { orgId, sha256: { in: sha256s } }, select: { sha256: true } });
  return new Set(rows.map((r) => r.sha256));
}

/** Removes store files that nothing refers to any more (a refused or expired upload's). */
async function deleteUnreferenced(db: PrismaClient, store: ArtifactStore, sha256s: string[]): Promise<void> {
  for (const sha256 of new Set(sha256s)) {
    const [files, versions, datasets, checkpoints, uploads] = await Promise.all([
      db.modelVersionFile.count({ where: { sha256 } }),
      db.modelVersion.count({ where: { artifactSha256: sha256 } }),
      db.datasetVersion.count({ where: { sha256 } }),
      db.runCheckpoint.count({ where: { sha256 } }),
      db.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM "ModelUpload" u, jsonb_array_elements(u.files) f WHERE f->>'sha256' = ${sha256} AND f->>'path' = ANY(u.received)`,
    ]);
    if (files + versions + datasets + checkpoints + (uploads[0]?.n ?? 0) === 0) {
      await store.delete(sha256);
      await db.artifactUpload.deleteMany({ where: { sha256 } });
    }
  }
}

/** Ends uploads past their time, with their files. */
export async function sweepExpiredUploads(db: PrismaClient, store: ArtifactStore = getArtifactStore()): Promise<number> {
  const expired = await db.modelUpload.findMany({ where: { expiresAt: { lt: new Date() } }, select: { id: true, files: true, received: true } });
  for (const u of expired) {
    await db.modelUpload.delete({ where: { id: u.id } });
    const received = new Set(u.received);
    await deleteUnreferenced(db, store, (u.files as unknown as FolderFile[]).filter((f) => received.has(f.path)).map((f) => f.sha256));
  }
  return expired.length;
}

export interface UploadState {
  uploadId: string;
  /** Files still to send (PUT .../files/<path>). */
  missing: string[];
  expiresAt: string;
}

/**
 * Starts (or resumes) the upload of a folder. The same manifest from the same person resumes the
 * upload in progress; files this organization already stores under the same hash need not be sent.
 */
export async function startFolderUpload(db: PrismaClient, actor: Actor, orgId: string, modelId: string, input: { files: FolderFile[]; lineage: FolderLineage }, store: ArtifactStore = getArtifactStore()): Promise<UploadState> {
  checkManifest(input.files);
  await sweepExpiredUploads(db, store);
  const hash = manifestHash(input.files);
  const existing = await db.modelUpload.findFirst({ where: { modelId, manifestHash: hash, createdById: actorId(actor) }, orderBy: { createdAt: "desc" } });
  const row =
    existing ??
    (await db.modelUpload.create({
      data: { modelId, files: jsonValue(input.files), manifestHash: hash, received: [], lineage: jsonValue(input.lineage), createdById: actorId(actor), expiresAt: new Date(Date.now() + UPLOAD_TTL_MS) },
    }));
  const known = await knownInOrg(db, orgId, input.files.map((f) => f.sha256));
  const already: string[] = [];
  for (const f of input.files) if (known.has(f.sha256) && !row.received.includes(f.path) && (await store.has(f.sha256))) already.push(f.path);
  const received = [...row.received, ...already];
  if (already.length) await db.modelUpload.update({ where: { id: row.id }, data: { received } });
  return { uploadId: row.id, missing: filesOf(row).filter((f) => !received.includes(f.path)).map((f) => f.path), expiresAt: row.expiresAt.toISOString() };
}

async function uploadOf(db: PrismaClient, modelId: string, uploadId: string): Promise<UploadRow> {
  const row = await db.modelUpload.findFirst({ where: { id: uploadId, modelId } });
  if (!row || row.expiresAt < new Date()) throw new DomainError("NOT_FOUND", "Upload not found or expired; start it again (the files already sent are kept while the upload lives).");
  return row;
}

/** Receives one file of an upload, checked against the sha256 and size the manifest announced. */
export async function receiveFolderFile(db: PrismaClient, orgId: string, modelId: string, uploadId: string, filePath: string, body: ReadableStream<Uint8Array> | Readable, store: ArtifactStore = getArtifactStore()): Promise<UploadState> {
  const row = await uploadOf(db, modelId, uploadId);
  const expected = filesOf(row).find((f) => f.path === filePath);
  if (!expected) throw new DomainError("NOT_FOUND", `"${filePath}" is not a file of this upload.`);
  if (!row.received.includes(filePath)) {
    let received;
    try {
      received = await receiveToTempFile(body, { maxBytes: expected.size, tempDir: path.join(os.tmpdir(), "hearth-uploads") });
    } catch (e) {
      if (e instanceof UploadTooLarge) throw new FolderInvalid(`"${filePath}" is longer than the ${expected.size} bytes announced; nothing was stored.`);
      throw e;
    }
    try {
      if (received.bytes !== expected.size || received.sha256 !== expected.sha256) {
        throw new FolderInvalid(`"${filePath}" arrived as ${received.bytes} bytes with sha256 ${received.sha256}, not the ${expected.size} bytes and ${expected.sha256} announced: it changed or was damaged on the way. Nothing was stored; send it again.`);
      }
      await store.putFile(received.tempPath, received.sha256);
      await recordUpload(db, orgId, received.sha256);
    } finally {
      await fsp.rm(received.tempPath, { force: true });
    }
    // Appending with array_append keeps two files arriving at once from overwriting each other.
    await db.$executeRaw`UPDATE "ModelUpload" SET received = array_append(received, ${filePath}) WHERE id = ${uploadId} AND NOT (${filePath} = ANY(received))`;
  }
  const fresh = await uploadOf(db, modelId, uploadId);
  return { uploadId, missing: filesOf(fresh).filter((f) => !fresh.received.includes(f.path)).map((f) => f.path), expiresAt: fresh.expiresAt.toISOString() };
}

/**
 * Creates the model version once every file has arrived and the folder checks out. A folder that
 * does not is refused with the reason, and the upload and its files are removed.
 */
export async function commitFolderUpload(db: PrismaClient, actor: Actor, orgId: string, modelId: string, uploadId: string, store: ArtifactStore = getArtifactStore()) {
  const row = await uploadOf(db, modelId, uploadId);
  const files = filesOf(row);
  const missing = files.filter((f) => !row.received.includes(f.path));
  if (missing.length) throw new DomainError("CONFLICT", `${missing.length} file(s) have not arrived yet: ${missing.slice(0, 10).map((f) => f.path).join(", ")}${missing.length > 10 ? ", ..." : ""}.`);
  let description: FolderDescription;
  try {
    description = await describeHfFolder(storeFolderReader(store, new Map(files.map((f) => [f.path, f]))));
  } catch (e) {
    if (e instanceof FolderInvalid) {
      await db.modelUpload.delete({ where: { id: row.id } }).catch(() => {});
      await deleteUnreferenced(db, store, files.map((f) => f.sha256));
    }
    throw e;
  }
  const lineage = row.lineage as FolderLineage;
  const sizeBytes = files.reduce((n, f) => n + f.size, 0);
  return db.$transaction(async (tx) => {
    const gone = await tx.modelUpload.deleteMany({ where: { id: row.id } });
    if (gone.count === 0) throw new DomainError("CONFLICT", "This upload was committed already.");
    const version = await createModelVersionIn(tx, actor, orgId, modelId, {
      ...lineage,
      config: jsonValue(description),
      sizeBytes,
      policyVersionIds: [],
      suiteVersionIds: [],
    });
    await tx.modelVersionFile.createMany({ data: files.map((f) => ({ modelVersionId: version.id, path: f.path, sha256: f.sha256, sizeBytes: BigInt(f.size) })) });
    await recordAudit(tx, actor, { orgId, action: "model.importFolder", resourceType: "ModelVersion", resourceId: version.id, after: { files: files.length, sizeBytes, ...description } });
    return { ...version, sizeBytes: version.sizeBytes?.toString() ?? null, description };
  });
}

/** The files of a version that is a folder (empty for a Hearth checkpoint version). */
export async function listVersionFiles(db: PrismaClient, modelVersionId: string) {
  const rows = await db.modelVersionFile.findMany({ where: { modelVersionId }, orderBy: { path: "asc" }, select: { path: true, sha256: true, sizeBytes: true } });
  return rows.map((r) => ({ path: r.path, sha256: r.sha256, size: Number(r.sizeBytes) }));
}

export async function versionFile(db: PrismaClient, modelVersionId: string, filePath: string) {
  const row = await db.modelVersionFile.findUnique({ where: { modelVersionId_path: { modelVersionId, path: filePath } }, select: { sha256: true, sizeBytes: true } });
  if (!row) throw new DomainError("NOT_FOUND", `This model version has no file "${filePath}".`);
  return { sha256: row.sha256, size: Number(row.sizeBytes) };
}

/**
 * A folder on this machine's disk uploaded as a new version, through the same upload a person's browser
 * makes (manifest, missing files, commit): the demo's models at first start.
 */
export async function uploadFolderFromDisk(db: PrismaClient, actor: Actor, orgId: string, modelId: string, dir: string, lineage: FolderLineage, store: ArtifactStore = getArtifactStore()) {
  const files = (await fsp.readdir(dir)).sort().map((file) => {
    const bytes = fs.readFileSync(path.join(dir, file));
    return { path: file, sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.length };
  });
  const upload = await startFolderUpload(db, actor, orgId, modelId, { files, lineage }, store);
  for (const file of upload.missing) await receiveFolderFile(db, orgId, modelId, upload.uploadId, file, fs.createReadStream(path.join(dir, file)), store);
  return commitFolderUpload(db, actor, orgId, modelId, upload.uploadId, store);
}
