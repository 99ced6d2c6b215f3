import fsp from "node:fs/promises";
import os from "node:os";
import type { Readable } from "node:stream";
import type { DatasetKind, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { getArtifactStore, receiveToTempFile, UploadTooLarge, type ArtifactStore } from "@/server/storage";
import { DatasetValidator } from "./validate";
import { recordUpload } from "@/server/storage/uploads";

export const MAX_DATASET_BYTES = Number(process.env.HEARTH_MAX_DATASET_BYTES ?? 1024 * 1024 * 1024);

export const datasetVersionSelect = { id: true, datasetId: true, version: true, sha256: true, bytes: true, lines: true, stats: true, createdById: true, createdAt: true } as const;

export function serializeVersion<T extends { bytes: bigint }>(version: T) {
  return { ...version, bytes: Number(version.bytes) };
}

export async function createDataset(db: PrismaClient, actor: Actor, orgId: string, projectId: string, input: { name: string; kind: DatasetKind }) {
  return db.$transaction(async (tx) => {
    if (await tx.dataset.findUnique({ where: { projectId_name: { projectId, name: input.name } }, select: { id: true } })) {
      throw new DomainError("CONFLICT", `A dataset named "${input.name}" already exists in this project.`);
    }
    const dataset = await tx.dataset.create({ data: { projectId, ...input, createdById: actorId(actor) }, select: { id: true, name: true, kind: true, projectId: true, createdAt: true } });
    await recordAudit(tx, actor, { orgId, action: "dataset.create", resourceType: "Dataset", resourceId: dataset.id, after: dataset });
    return dataset;
  });
}

/**
 * Streams an upload to disk while hashing and validating it, stores it content-addressed, and records
 * the next version. Invalid or oversized uploads are refused whole, with line numbers; nothing partial stays.
 */
export async function uploadDatasetVersion(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  datasetId: string,
  body: ReadableStream<Uint8Array> | Readable,
  options: { maxBytes?: number; store?: ArtifactStore } = {},
) {
  const dataset = await db.dataset.findUniqueOrThrow({ where: { id: datasetId }, select: { kind: true } });
  const validator = new DatasetValidator(dataset.kind);
  let received;
  try {
    received = await receiveToTempFile(body, { maxBytes: options.maxBytes ?? MAX_DATASET_BYTES, tempDir: os.tmpdir(), inspect: (chunk) => validator.push(chunk) });
  } catch (error) {
    if (error instanceof UploadTooLarge) throw new DomainError("BAD_REQUEST", error.message);
    throw error;
  }
  try {
    const stats = validator.finish();
    if (validator.errors.length) {
      const listed = validator.errors.map((e) => `line ${e.line}: ${e.message}`).join("; ");
      throw new DomainError("BAD_REQUEST", `The file was not stored: ${listed}${validator.errors.length >= 20 ? "; ..." : ""}`);
    }
    if (received.bytes === 0) throw new DomainError("BAD_REQUEST", "The file is empty.");
    if (dataset.kind === "PAIRS" && !stats.pairs) throw new DomainError("BAD_REQUEST", "The file holds no prompt/response pairs.");
    if (dataset.kind === "PREFERENCE" && !stats.preferences && !stats.thumbs) throw new DomainError("BAD_REQUEST", "The file holds no preferences.");
    await (options.store ?? getArtifactStore()).putFile(received.tempPath, received.sha256);
    await recordUpload(db, orgId, received.sha256);
    return await db.$transaction(async (tx) => {
      const latest = await tx.datasetVersion.findFirst({ where: { datasetId }, orderBy: { version: "desc" }, select: { version: true, sha256: true } });
      if (latest?.sha256 === received.sha256) throw new DomainError("CONFLICT", `This file is identical to version ${latest.version}.`);
      const version = await tx.datasetVersion.create({
        data: { datasetId, version: (latest?.version ?? 0) + 1, sha256: received.sha256, bytes: BigInt(received.bytes), lines: stats.lines, stats: { ...stats }, createdById: actorId(actor) },
        select: datasetVersionSelect,
      });
      const shown = serializeVersion(version);
      await recordAudit(tx, actor, { orgId, action: "dataset.upload", resourceType: "DatasetVersion", resourceId: version.id, after: shown });
      return shown;
    });
  } finally {
    await fsp.rm(received.tempPath, { force: true });
  }
}
