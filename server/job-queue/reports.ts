// What a node sends back while it works on a leased job: checkpoints, the final artifact, and the
// end of the job. Every call checks the lease, so a node that lost its job cannot write to it.
import fsp from "node:fs/promises";
import os from "node:os";
import type { Readable } from "node:stream";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import { recordAudit, type NodeActor } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { getArtifactStore, receiveToTempFile, UploadTooLarge, type ArtifactStore } from "@/server/storage";
import { transitionRun } from "@/server/runs/service";
import { createModelVersionWithArtifact, modelVersionOfRun, storeUploadedModel } from "@/server/models/artifacts";
import { folderOfManifest, storeFolderManifest } from "@/server/models/folder-archives";
import { assertLeaseHeld, clearLease } from "./queue";
import { checkpointsToKeep, pruneRunCheckpoints } from "./checkpoints";
import { recordUpload, uploadedBy } from "@/server/storage/uploads";

/** The largest checkpoint or model a node may upload (HEARTH_MAX_ARTIFACT_BYTES, default 4 GiB). */
export const MAX_ARTIFACT_BYTES = Number(process.env.HEARTH_MAX_ARTIFACT_BYTES ?? 4 * 1024 ** 3);

async function storeUpload(body: ReadableStream<Uint8Array> | Readable, store: ArtifactStore): Promise<{ sha256: string; bytes: number }> {
  let received;
  try {
    received = await receiveToTempFile(body, { maxBytes: MAX_ARTIFACT_BYTES, tempDir: os.tmpdir() });
  } catch (error) {
    if (error instanceof UploadTooLarge) throw new DomainError("BAD_REQUEST", error.message);
    throw error;
  }
  try {
    if (received.bytes === 0) throw new DomainError("BAD_REQUEST", "The upload is empty.");
    await store.putFile(received.tempPath, received.sha256);
    return { sha256: received.sha256, bytes: received.bytes };
  } finally {
    await fsp.rm(received.tempPath, { force: true });
  }
}

/** Stores a training-state checkpoint of a leased run; re-sending the same step is harmless. */
export async function storeRunCheckpoint(
  db: PrismaClient,
  node: NodeActor,
  runId: string,
  step: number,
  body: ReadableStream<Uint8Array> | Readable,
  options: { store?: ArtifactStore } = {},
) {
  await assertLeaseHeld(db, node, runId);
  const stored = await storeUpload(body, options.store ?? getArtifactStore());
  await recordUpload(db, node.orgId, stored.sha256);
  // The lease is checked again with the row: the upload may have taken longer than a lease.
  await assertLeaseHeld(db, node, runId);
  await db.runCheckpoint.upsert({
    where: { runId_step: { runId, step } },
    create: { runId, step, sha256: stored.sha256, sizeBytes: BigInt(stored.bytes), nodeId: node.nodeId },
    update: {},
  });
  await pruneQuietly(db, runId, checkpointsToKeep(), options.store ?? getArtifactStore());
  return { step, sha256: stored.sha256, sizeBytes: stored.bytes };
}

/**
 * Stores the finished model of a leased training run, checked as a folder import or a loadable
 * checkpoint is; completeTrainingJob registers it under the sha256 this answers. For a folder (sent as
 * a ustar archive) that sha256 names the folder's file list, stored beside its files.
 */
export async function storeRunArtifact(db: PrismaClient, node: NodeActor, runId: string, body: ReadableStream<Uint8Array> | Readable, options: { store?: ArtifactStore } = {}) {
  await assertLeaseHeld(db, node, runId);
  const store = options.store ?? getArtifactStore();
  const stored = await storeUploadedModel({ db, orgId: node.orgId }, body, { store });
  if (stored.kind === "folder") {
    const manifest = await storeFolderManifest({ db, orgId: node.orgId }, stored.folder, store);
    return { sha256: manifest.sha256, sizeBytes: stored.folder.sizeBytes, config: stored.folder.description, parameters: stored.folder.description.parameters };
  }
  return { sha256: stored.sha256, sizeBytes: stored.sizeBytes, config: stored.config, parameters: stored.parameters };
}

export interface TrainingCompletion {
  artifactSha256: string;
  sizeBytes: number;
  /** What the artifact is (architecture, parameters); recorded as the model version's config. */
  modelConfig: Record<string, unknown>;
  summary: Record<string, unknown>;
}

/**
 * Registers the trained model as a version of the run's model (config.modelId), with its lineage,
 * and ends the run SUCCEEDED. Exactly once per run: createModelVersionWithArtifact locks the run and
 * returns the version an earlier attempt registered (one that died before finishing the run).
 */
export async function completeTrainingJob(db: PrismaClient, node: NodeActor, runId: string, input: TrainingCompletion, options: { store?: ArtifactStore } = {}) {
  const done = await finishTrainingRun(db, node, runId, input, options);
  // Whichever request finished the run (a completion re-sent after its answer was lost, or one of
  // two racing), the model version now holds what the run produced: its training states go.
  await pruneQuietly(db, runId, 0, options.store ?? getArtifactStore());
  return done;
}

async function finishTrainingRun(db: PrismaClient, node: NodeActor, runId: string, input: TrainingCompletion, options: { store?: ArtifactStore }) {
  // A completion re-sent after its answer was lost finds the run finished with its version.
  const finished = await finishedWithVersion(db, node, runId);
  if (finished) return finished;
  const run = await assertLeaseHeld(db, node, runId);
  if (run.kind === "EVAL") throw new DomainError("BAD_REQUEST", "An eval run does not produce a model version.");
  const modelId = typeof run.config === "object" && run.config && "modelId" in run.config ? String((run.config as { modelId: unknown }).modelId) : null;
  if (!modelId) throw new DomainError("BAD_REQUEST", "The run's config names no model (modelId) to add the version to.");
  const model = await db.model.findFirst({ where: { id: modelId, projectId: run.projectId }, select: { id: true } });
  if (!model) throw new DomainError("NOT_FOUND", "The run's model (config.modelId) is not in the run's project.");
  const store = options.store ?? getArtifactStore();
  // A folder's file list (storeRunArtifact) becomes a folder version described by the server, as an import is.
  const folder = (await uploadedBy(db, node.orgId, input.artifactSha256)) && (await store.has(input.artifactSha256)) ? await folderOfManifest(db, node.orgId, input.artifactSha256, store) : null;
  const artifact = folder ? { config: { ...folder.description }, folder } : { config: input.modelConfig, sha256: input.artifactSha256, sizeBytes: input.sizeBytes };
  const { version } = await createModelVersionWithArtifact(db, node, node.orgId, modelId, { runId, ...artifact }, options);
  try {
    await transitionRun(db, node, node.orgId, runId, "SUCCEEDED", { summary: { ...input.summary, modelVersionId: version.id } as Prisma.InputJsonValue });
  } catch (error) {
    // A concurrent completion of the same run got there first.
    const done = await finishedWithVersion(db, node, runId);
    if (done) return done;
    throw error;
  }
  await clearLease(db, node, runId);
  return { modelVersionId: version.id };
}

/** Pruning is housekeeping: a failure is logged, never the node's error. */
async function pruneQuietly(db: PrismaClient, runId: string, keep: number, store: ArtifactStore): Promise<void> {
  try {
    await pruneRunCheckpoints(db, runId, keep, store);
  } catch (error) {
    console.error(`[jobs] could not prune the checkpoints of run ${runId}:`, error);
  }
}

async function finishedWithVersion(db: PrismaClient, node: NodeActor, runId: string) {
  const run = await db.run.findFirst({ where: { id: runId, status: "SUCCEEDED", project: { orgId: node.orgId } }, select: { id: true } });
  const version = run ? await modelVersionOfRun(db, runId) : null;
  return version ? { modelVersionId: version.id } : null;
}

/** Ends a leased eval run SUCCEEDED; the summary is computed from the recorded results. */
export async function completeEvalJob(db: PrismaClient, node: NodeActor, runId: string) {
  const run = await assertLeaseHeld(db, node, runId);
  if (run.kind !== "EVAL") throw new DomainError("BAD_REQUEST", "Only an eval run completes without a model artifact.");
  await transitionRun(db, node, node.orgId, runId, "SUCCEEDED", {});
  await clearLease(db, node, runId);
  return { status: "SUCCEEDED" as const };
}
