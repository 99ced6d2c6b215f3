// Retention of training checkpoints from GPU nodes. Each is a full training state (weights and both
// AdamW moments: three times the model), uploaded every checkpointEvery steps; kept forever they
// would fill the artifact store (GPT-2 small: ~1.5 GB each). A run keeps its newest few while it
// trains (a resume needs only the latest; one more covers an upload cut short), and none once it
// has produced its model version.
import type { PrismaClient } from "@/server/db/generated/client";
import type { ArtifactStore } from "@/server/storage";

/** Checkpoints kept per training run (HEARTH_KEEP_CHECKPOINTS, default 2, at least 1). */
export function checkpointsToKeep(): number {
  const n = Number(process.env.HEARTH_KEEP_CHECKPOINTS ?? 2);
  return Number.isInteger(n) && n >= 1 ? n : 2;
}

/**
 * Deletes all but the newest `keep` checkpoints of a run, and their files unless something else
 * (a dataset version, a model version, another checkpoint) is stored under the same content
 * address. Returns the steps removed.
 */
export async function pruneRunCheckpoints(db: PrismaClient, runId: string, keep: number, store: ArtifactStore): Promise<number[]> {
  const old = await db.runCheckpoint.findMany({ where: { runId }, orderBy: { step: "desc" }, skip: keep, select: { step: true, sha256: true } });
  if (old.length === 0) return [];
  await db.runCheckpoint.deleteMany({ where: { runId, step: { in: old.map((c) => c.step) } } });
  for (const sha256 of new Set(old.map((c) => c.sha256))) {
    const [checkpoints, models, datasets] = await Promise.all([
      db.runCheckpoint.count({ where: { sha256 } }),
      db.modelVersion.count({ where: { artifactSha256: sha256 } }),
      db.datasetVersion.count({ where: { sha256 } }),
    ]);
    if (checkpoints + models + datasets === 0) await store.delete(sha256);
  }
  return old.map((c) => c.step);
}
