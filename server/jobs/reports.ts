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
import { modelVersionSelect } from "@/server/models/service";
import { assertLeaseHeld, clearLease } from "./queue";

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
  // The lease is checked again with the row: the upload may have taken longer than a lease.
  await assertLeaseHeld(db, node, runId);
  await db.runCheckpoint.upsert({
    where: { runId_step: { runId, step } },
    create: { runId, step, sha256: stored.sha256, sizeBytes: BigInt(stored.bytes), nodeId: node.nodeId },
    update: {},
  });
  return { step, sha256: stored.sha256, sizeBytes: stored.bytes };
}

/** Stores the finished model of a leased training run; registering it is completeTrainingJob's. */
export async function storeRunArtifact(db: PrismaClient, node: NodeActor, runId: string, body: ReadableStream<Uint8Array> | Readable, options: { store?: ArtifactStore } = {}) {
  await assertLeaseHeld(db, node, runId);
  const stored = await storeUpload(body, options.store ?? getArtifactStore());
  return { sha256: stored.sha256, sizeBytes: stored.bytes };
}

export interface TrainingCompletion {
  artifactSha256: string;
  sizeBytes: number;
  /** What the artifact is (architecture, parameters); recorded as the model version's config. */
  modelConfig: Record<string, unknown>;
  summary: Record<string, unknown>;
}

/**
 * Registers the trained model as a version of the run's model (config.modelId) and ends the run
 * SUCCEEDED. Exactly once per run: the run's row is locked, and a version already registered for it
 * (by an earlier attempt that died before finishing the run) is reused.
 */
export async function completeTrainingJob(db: PrismaClient, node: NodeActor, runId: string, input: TrainingCompletion, options: { store?: ArtifactStore } = {}) {
  // A completion re-sent after its answer was lost finds the run finished with its version.
  const finished = await finishedWithVersion(db, node, runId);
  if (finished) return finished;
  const run = await assertLeaseHeld(db, node, runId);
  if (run.kind === "EVAL") throw new DomainError("BAD_REQUEST", "An eval run does not produce a model version.");
  const modelId = typeof run.config === "object" && run.config && "modelId" in run.config ? String((run.config as { modelId: unknown }).modelId) : null;
  if (!modelId) throw new DomainError("BAD_REQUEST", "The run's config names no model (modelId) to add the version to.");
  if (!(await (options.store ?? getArtifactStore()).has(input.artifactSha256))) {
    throw new DomainError("PRECONDITION_FAILED", "The artifact is not in the artifact store; upload it first.");
  }
  const version = await db.$transaction(async (tx) => {
    // Row lock on the run: a retried completion waits here, then finds the version the first made.
    await tx.$queryRaw`SELECT id FROM "Run" WHERE id = ${runId} FOR UPDATE`;
    const existing = await tx.modelVersion.findFirst({ where: { runId }, select: modelVersionSelect });
    if (existing) return existing;
    const model = await tx.model.findFirst({ where: { id: modelId, projectId: run.projectId }, select: { id: true } });
    if (!model) throw new DomainError("NOT_FOUND", "The run's model (config.modelId) is not in the run's project.");
    const latest = await tx.modelVersion.findFirst({ where: { modelId }, orderBy: { version: "desc" }, select: { version: true } });
    const creator = await tx.run.findUniqueOrThrow({ where: { id: runId }, select: { createdById: true } });
    const created = await tx.modelVersion.create({
      data: {
        modelId,
        version: (latest?.version ?? 0) + 1,
        config: { ...input.modelConfig, training: { kind: run.kind, ...(run.config as Record<string, unknown>) } } as Prisma.InputJsonValue,
        runId,
        datasetVersionId: run.datasetVersionId,
        parentId: run.modelVersionId,
        policyVersionIds: [],
        suiteVersionIds: [],
        artifactSha256: input.artifactSha256,
        sizeBytes: BigInt(input.sizeBytes),
        // The person who launched the run; the audit entry names the node that produced it.
        createdById: creator.createdById,
      },
      select: modelVersionSelect,
    });
    await recordAudit(tx, node, { orgId: node.orgId, action: "model.createVersion", resourceType: "ModelVersion", resourceId: created.id, after: { ...created, sizeBytes: created.sizeBytes?.toString() } });
    return created;
  });
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

async function finishedWithVersion(db: PrismaClient, node: NodeActor, runId: string) {
  const run = await db.run.findFirst({ where: { id: runId, status: "SUCCEEDED", project: { orgId: node.orgId } }, select: { id: true } });
  const version = run ? await db.modelVersion.findFirst({ where: { runId }, select: { id: true } }) : null;
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
