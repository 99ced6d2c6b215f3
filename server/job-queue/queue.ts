// The node job queue lives in the Run table: a QUEUED run with target NODE is a job; a node leases
// one with a single UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED) (the same SQL on PGlite
// and PostgreSQL), renews the lease on every heartbeat, and an expired lease puts the job back for
// another node (or fails it after maxAttempts). Lease times come from the database clock, so web
// instances and nodes never compare their own clocks.
import { Prisma, type PrismaClient, type RunKind } from "@/server/db/generated/client";
import { recordAudit, type NodeActor } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { estimateTrainJob, validateTrainJobSpec, type TrainJobSpec } from "@/gpu/train/job";
import { planForSpec } from "@/gpu/train/decoder-job";
import { DECODER_SHAPES } from "@/gpu/train/memory-plan";
import { parseHFConfig } from "@/gpu/nn/hf-config";
import { getArtifactStore, type ArtifactStore } from "@/server/storage";
import { listVersionFiles, storeFolderReader } from "@/server/models/folders";
import { queueSettings } from "./settings";
import { NODE_JOB_KINDS, type LeasedJob, type LeaseState, type NodeEngine } from "@/contracts/node-protocol";

export { NODE_JOB_KINDS, type JobCheckpoint, type LeasedJob, type LeaseState } from "@/contracts/node-protocol";

type Tx = Prisma.TransactionClient;

const DB_NOW = Prisma.sql`(now() AT TIME ZONE 'UTC')`;
const leaseEnd = (leaseMs: number) => Prisma.sql`(${DB_NOW} + make_interval(secs => ${leaseMs / 1000}::double precision))`;

export interface NodeCapacity {
  memoryBytes: bigint | null;
  kinds: RunKind[];
  /** The node's engines (default webgpu); with torch among them, torch trains what it can. */
  engines?: NodeEngine[];
  /** Processes the torch engine can run one job as (its GPUs; default 1): a job asking for more gpus is not leased. */
  ranks?: number;
}

/** The processes (GPUs) a queued run `q` asks for: its config's gpus, 1 when absent. */
const RUN_GPUS = Prisma.sql`(CASE WHEN q.config->>'gpus' ~ '^[0-9]{1,3}$' THEN (q.config->>'gpus')::int ELSE 1 END)`;

/** The nodes a queued run `q` asks for: its config's nodes, 1 when absent (a gang lease when more). */
const RUN_NODES = Prisma.sql`(CASE WHEN q.config->>'nodes' ~ '^[0-9]{1,3}$' THEN (q.config->>'nodes')::int ELSE 1 END)`;

/**
 * Whether the torch engine can run the queued run `q`: training (PRETRAIN, SFT, LORA) of a Hugging
 * Face folder parent, an eval of a folder version, or pre-training a known architecture from scratch.
 * Hearth's GPT checkpoints (and pre-training one from a preset) run on webgpu only.
 */
const TORCH_CAN_RUN = Prisma.sql`((q.kind::text IN ('PRETRAIN', 'SFT', 'LORA', 'EVAL') AND q."modelVersionId" IS NOT NULL
  AND EXISTS (SELECT 1 FROM "ModelVersionFile" mf WHERE mf."modelVersionId" = q."modelVersionId" AND mf.path = 'config.json'))
  OR (q.kind::text = 'PRETRAIN' AND q."modelVersionId" IS NULL AND q.config->>'architecture' IS NOT NULL))`;

/**
 * Queued runs `q` that a node with `engines` can run: one whose engine is recorded goes only to that
 * engine; a job on several GPUs only to torch, on a node with that many.
 */
function enginesCanRun(engines: NodeEngine[], ranks: number, gangs = false) {
  const torch = engines.includes("torch");
  const webgpu = engines.includes("webgpu");
  // A job on several nodes only on torch, and only with a node that can host its rendezvous.
  const onTorch = Prisma.sql`(${torch} AND ${TORCH_CAN_RUN} AND ${RUN_GPUS} <= ${ranks}::int AND (${RUN_NODES} = 1 OR ${gangs}))`;
  const onWebgpu = Prisma.sql`(${webgpu} AND ${RUN_GPUS} = 1 AND ${RUN_NODES} = 1)`;
  return Prisma.sql`(CASE WHEN q.engine = 'torch' THEN ${onTorch} WHEN q.engine = 'webgpu' THEN ${onWebgpu} ELSE ${onWebgpu} OR ${onTorch} END)`;
}

/**
 * Estimates the memory of queued jobs that have no estimate yet (runs are created by the API without
 * one), so leasing can match them to nodes. A training config that cannot be valid fails its run now,
 * with the reason, instead of being handed to node after node.
 */
export async function admitQueuedJobs(db: PrismaClient, orgId: string): Promise<void> {
  // Eval: the model's weights plus room for activations and the KV cache; twice the checkpoint is generous.
  await db.$executeRaw`
    UPDATE "Run" r SET "requiredMemory" = 2 * COALESCE((SELECT mv."sizeBytes" FROM "ModelVersion" mv WHERE mv.id = r."modelVersionId"), 0)
    WHERE r.target = 'NODE' AND r.status = 'QUEUED' AND r.kind = 'EVAL' AND r."requiredMemory" IS NULL
      AND r."projectId" IN (SELECT id FROM "Project" WHERE "orgId" = ${orgId})`;
  const pending = await db.run.findMany({
    where: { target: "NODE", status: "QUEUED", requiredMemory: null, kind: { not: "EVAL" }, project: { orgId } },
    select: { id: true, kind: true, config: true, modelVersionId: true },
    take: 100,
  });
  for (const run of pending) {
    let requiredMemory: bigint;
    try {
      requiredMemory = BigInt(Math.ceil(await trainingMemory(db, validateTrainJobSpec({ ...(run.config as object), kind: run.kind }), run.modelVersionId)));
    } catch (error) {
      await db.$transaction(async (tx) => {
        const changed = await tx.run.updateMany({ where: { id: run.id, status: "QUEUED" }, data: { status: "FAILED", error: `Invalid training config: ${(error as Error).message}`, finishedAt: new Date() } });
        if (changed.count) await recordAudit(tx, { type: "system" }, { orgId, action: "run.failed", resourceType: "Run", resourceId: run.id, after: { status: "FAILED", error: (error as Error).message } });
      });
      continue;
    }
    await db.run.updateMany({ where: { id: run.id, requiredMemory: null }, data: { requiredMemory } });
  }
}

/**
 * GPU memory a training job needs on each of its GPUs: a Hugging Face parent's memory plan (from its
 * config.json), or the GPT estimate of the spec's shape.
 */
async function trainingMemory(db: PrismaClient, spec: TrainJobSpec, parentId: string | null, store: ArtifactStore = getArtifactStore()): Promise<number> {
  const files = parentId ? await listVersionFiles(db, parentId) : [];
  const configFile = files.find((f) => f.path === "config.json");
  let raw: Record<string, unknown>;
  if (configFile) raw = (await storeFolderReader(store, new Map(files.map((f) => [f.path, f]))).readJson("config.json")) as Record<string, unknown>;
  else if (spec.architecture && !parentId) raw = { ...DECODER_SHAPES[spec.architecture].config, vocab_size: (spec.vocabSize ?? 4096) + 1 };
  else return estimateTrainJob(spec).bufferBytes;
  const config = parseHFConfig(raw);
  if (config.modelType === "gpt2") throw new Error("fine-tuning a GPT-2 folder is not supported; choose a llama, mistral or qwen2 model");
  const total = planForSpec(config, spec, { sourceBytes: config.dtype === "float32" || !configFile ? 4 : 2 }).total;
  // Across several GPUs FSDP shards weights, gradients and moments (each process also holds its share
  // of the batch's activations): a GPU needs about its share. DDP keeps a whole copy on each.
  const gpus = spec.gpus ?? 1;
  return gpus > 1 && spec.strategy !== "ddp" ? Math.ceil(total / gpus) : total;
}

interface LeasedRow {
  id: string;
  projectId: string;
  kind: RunKind;
  engine: NodeEngine;
  config: unknown;
  datasetVersionId: string | null;
  modelVersionId: string | null;
  suiteVersionId: string | null;
  attempts: number;
  maxAttempts: number;
  rendezvousAddress: string | null;
  rendezvousPort: number | null;
  nodeRank?: number;
}

const LEASED_COLUMNS = Prisma.sql`r.id, r."projectId", r.kind::text AS kind, r.engine, r.config, r."datasetVersionId", r."modelVersionId", r."suiteVersionId", r.attempts, r."maxAttempts", r."rendezvousAddress", r."rendezvousPort"`;

/**
 * Leases the oldest queued job of the node's organization that fits it, or returns null. A job on
 * several nodes is leased only with enough idle peers, all at once (a gang lease: a RunLease row per
 * node, this node rank 0 and the rendezvous host); a node named in a gang picks its part up here at
 * its next poll. The node's own GpuNode row is locked while it leases, and a gang locks its peers'
 * rows (SKIP LOCKED both ways), so a node is never in two gangs nor in a gang and a job of its own.
 */
export async function leaseNextJob(db: PrismaClient, node: NodeActor, capacity: NodeCapacity): Promise<LeasedJob | null> {
  const { leaseMs } = queueSettings();
  await admitQueuedJobs(db, node.orgId);
  await dropEndedGangs(db);
  const part = await claimGangPart(db, node);
  if (part) return describeJob(db, part);
  const kinds = capacity.kinds.length ? capacity.kinds : NODE_JOB_KINDS;
  const engines = capacity.engines?.length ? capacity.engines : (["webgpu"] as NodeEngine[]);
  const ranks = capacity.ranks ?? 1;
  const memory = capacity.memoryBytes;
  const row = await db.$transaction(async (tx) => {
    const [me] = await tx.$queryRaw<Array<{ rendezvousAddress: string | null }>>`
      SELECT g."rendezvousAddress" FROM "GpuNode" g
      WHERE g.id = ${node.nodeId} AND NOT EXISTS (SELECT 1 FROM "RunLease" l WHERE l."nodeId" = g.id)
      FOR UPDATE SKIP LOCKED`;
    // Being named in a gang right now (or already in one): lease nothing else.
    if (!me) return null;
    const gangs = engines.includes("torch") && me.rendezvousAddress !== null;
    const candidates = await tx.$queryRaw<Array<{ id: string; nodes: number; gpus: number; requiredMemory: bigint }>>`
      SELECT q.id, ${RUN_NODES} AS nodes, ${RUN_GPUS} AS gpus, q."requiredMemory" FROM "Run" q JOIN "Project" p ON p.id = q."projectId"
      WHERE q.target = 'NODE' AND q.status = 'QUEUED' AND NOT q."cancelRequested" AND p."orgId" = ${node.orgId}
        AND q.kind::text = ANY(${kinds}::text[]) AND ${enginesCanRun(engines, ranks, gangs)}
        AND q."requiredMemory" IS NOT NULL AND (${memory}::bigint IS NULL OR q."requiredMemory" <= ${memory}::bigint)
      ORDER BY q."createdAt", q.id
      LIMIT 50`;
    for (const candidate of candidates) {
      const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "Run" WHERE id = ${candidate.id} AND status = 'QUEUED' AND NOT "cancelRequested" FOR UPDATE SKIP LOCKED`;
      if (!locked.length) continue;
      if (candidate.nodes <= 1) {
        const rows = await tx.$queryRaw<LeasedRow[]>`
          UPDATE "Run" AS r
          SET status = 'RUNNING', "leaseNodeId" = ${node.nodeId}, "leaseExpiresAt" = ${leaseEnd(leaseMs)},
              attempts = r.attempts + 1, "startedAt" = COALESCE(r."startedAt", ${DB_NOW}),
              engine = COALESCE(r.engine, (SELECT CASE WHEN ${engines.includes("torch")} AND ${TORCH_CAN_RUN} AND ${RUN_GPUS} <= ${ranks}::int THEN 'torch' ELSE 'webgpu' END FROM "Run" q WHERE q.id = r.id))
          WHERE r.id = ${candidate.id}
          RETURNING ${LEASED_COLUMNS}`;
        // The node's row shows the job from its next heartbeat on (within a second).
        await recordAudit(tx, node, { orgId: node.orgId, action: "run.lease", resourceType: "Run", resourceId: rows[0].id, after: { nodeId: node.nodeId, attempt: rows[0].attempts, engine: rows[0].engine } });
        return rows[0];
      }
      const gang = await formGang(tx, node, me.rendezvousAddress!, candidate);
      if (gang) return gang;
    }
    return null;
  });
  return row ? describeJob(db, row) : null;
}

/**
 * A gang lease of the locked queued run `candidate` with this node as rank 0, if enough idle peers
 * (torch, as many processes as the job's gpus, enough memory, heard from within three heartbeats, so
 * a node that just died is not named and left to expire an attempt, started with
 * --rendezvous-address, in no job or gang) can be locked now; else null and nothing is written.
 */
async function formGang(tx: Tx, node: NodeActor, address: string, candidate: { id: string; nodes: number; gpus: number; requiredMemory: bigint }): Promise<LeasedRow | null> {
  const { leaseMs, heartbeatMs, rendezvousPorts } = queueSettings();
  const peers = await tx.$queryRaw<{ id: string }[]>`
    SELECT g.id FROM "GpuNode" g JOIN "NodeToken" t ON t.id = g."tokenId"
    WHERE g."orgId" = ${node.orgId} AND g.id <> ${node.nodeId} AND t."revokedAt" IS NULL
      AND g."lastSeenAt" > ${new Date(Date.now() - 3 * heartbeatMs)} AND g."currentRunId" IS NULL AND g."rendezvousAddress" IS NOT NULL
      AND 'torch' = ANY(g.engines) AND COALESCE((g."engineInfo"->'torch'->>'ranks')::int, 1) >= ${candidate.gpus}::int
      AND (g."memoryBytes" IS NULL OR g."memoryBytes" >= ${candidate.requiredMemory}::bigint)
      AND NOT EXISTS (SELECT 1 FROM "RunLease" l WHERE l."nodeId" = g.id)
      AND NOT EXISTS (SELECT 1 FROM "Run" r WHERE r."leaseNodeId" = g.id AND r.status = 'RUNNING')
    ORDER BY g."lastSeenAt" DESC, g.id
    LIMIT ${candidate.nodes - 1}
    FOR UPDATE OF g SKIP LOCKED`;
  if (peers.length < candidate.nodes - 1) return null;
  const [from, to] = rendezvousPorts;
  const port = from + Math.floor(Math.random() * (to - from + 1));
  const rows = await tx.$queryRaw<LeasedRow[]>`
    UPDATE "Run" AS r
    SET status = 'RUNNING', "leaseNodeId" = ${node.nodeId}, "leaseExpiresAt" = ${leaseEnd(leaseMs)},
        attempts = r.attempts + 1, "startedAt" = COALESCE(r."startedAt", ${DB_NOW}), engine = 'torch',
        "rendezvousAddress" = ${address}, "rendezvousPort" = ${port}
    WHERE r.id = ${candidate.id}
    RETURNING ${LEASED_COLUMNS}`;
  const members = [node.nodeId, ...peers.map((p) => p.id)];
  for (const [rank, nodeId] of members.entries()) {
    await tx.$executeRaw`
      INSERT INTO "RunLease" ("runId", "nodeId", "nodeRank", "claimedAt", "expiresAt")
      VALUES (${candidate.id}, ${nodeId}, ${rank}, ${rank === 0 ? DB_NOW : null}, ${leaseEnd(leaseMs)})`;
  }
  await recordAudit(tx, node, { orgId: node.orgId, action: "run.lease", resourceType: "Run", resourceId: candidate.id, after: { nodeId: node.nodeId, attempt: rows[0].attempts, engine: "torch", gang: members, rendezvous: `${address}:${port}` } });
  return { ...rows[0], nodeRank: 0 };
}

/**
 * Gang rows of runs that are no longer running: a run ended by the run page (cancelled, failed by
 * hand) keeps them until here, and they would keep its nodes out of every other job. They are written
 * with the run's RUNNING status, so once it has another status they are stale.
 */
async function dropEndedGangs(db: Pick<PrismaClient, "$executeRaw">) {
  await db.$executeRaw`DELETE FROM "RunLease" l USING "Run" r WHERE r.id = l."runId" AND r.status <> 'RUNNING'`;
}

/** This node's part of a gang another node formed, not yet picked up (its next poll does). */
async function claimGangPart(db: PrismaClient, node: NodeActor): Promise<LeasedRow | null> {
  const { leaseMs } = queueSettings();
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<LeasedRow[]>`
      UPDATE "RunLease" l SET "claimedAt" = ${DB_NOW}, "expiresAt" = ${leaseEnd(leaseMs)}
      FROM "Run" r
      WHERE l."nodeId" = ${node.nodeId} AND l."claimedAt" IS NULL AND r.id = l."runId" AND r.status = 'RUNNING' AND NOT r."cancelRequested"
      RETURNING ${LEASED_COLUMNS}, l."nodeRank"`;
    if (!rows.length) return null;
    await recordAudit(tx, node, { orgId: node.orgId, action: "run.lease", resourceType: "Run", resourceId: rows[0].id, after: { nodeId: node.nodeId, attempt: rows[0].attempts, engine: rows[0].engine, nodeRank: rows[0].nodeRank } });
    return rows[0];
  });
}

/**
 * When a node leased nothing: the queued jobs of its organization that only engines it lacks can run,
 * or that ask for more GPUs than it has, said plainly (e.g. a torch-only node and a job on a Hearth GPT
 * checkpoint), or null when there are none.
 */
export async function jobsOtherEnginesRun(db: PrismaClient, node: NodeActor, engines: NodeEngine[], ranks = 1): Promise<string | null> {
  const widest = engines.includes("torch") ? ranks : 1;
  // one pass over the organization's queue (an idle node asks this at every poll)
  const [row] = await db.$queryRaw<Array<{ other: bigint; wide: bigint; gpus: number | null; gangs: bigint }>>`
    SELECT count(*) FILTER (WHERE ${RUN_GPUS} <= ${widest}::int AND ${RUN_NODES} = 1 AND NOT ${enginesCanRun(engines, ranks)}) AS other,
           count(*) FILTER (WHERE ${RUN_GPUS} > ${widest}::int) AS wide,
           max(${RUN_GPUS}) AS gpus,
           count(*) FILTER (WHERE ${RUN_GPUS} <= ${widest}::int AND ${RUN_NODES} > 1
             AND NOT EXISTS (SELECT 1 FROM "GpuNode" g WHERE g.id = ${node.nodeId} AND g."rendezvousAddress" IS NOT NULL)) AS gangs
    FROM "Run" q JOIN "Project" p ON p.id = q."projectId"
    WHERE q.target = 'NODE' AND q.status = 'QUEUED' AND NOT q."cancelRequested" AND p."orgId" = ${node.orgId}`;
  const lines: string[] = [];
  const count = Number(row?.other ?? 0);
  if (count) {
    const other = engines.includes("webgpu") ? "torch" : "webgpu";
    const what = other === "webgpu" ? " (Hearth GPT checkpoints, or runs started on webgpu)" : " (runs started on torch, which only torch resumes)";
    lines.push(`${count} queued job${count === 1 ? "" : "s"} need${count === 1 ? "s" : ""} the ${other} engine${what}, which this node does not run (it runs ${engines.join(", ")}); it does not lease ${count === 1 ? "it" : "them"}.`);
  }
  const wide = Number(row?.wide ?? 0);
  if (wide) {
    const has = engines.includes("torch") ? `${ranks} process${ranks === 1 ? "" : "es"} (its GPUs, or --cpu-ranks)` : "1 process (the webgpu engine; several GPUs need torch)";
    lines.push(`${wide} queued job${wide === 1 ? "" : "s"} ask${wide === 1 ? "s" : ""} for up to ${row.gpus} GPUs on one node; this node runs ${has}.`);
  }
  const gangs = Number(row?.gangs ?? 0);
  if (gangs) lines.push(`${gangs} queued job${gangs === 1 ? "" : "s"} run${gangs === 1 ? "s" : ""} on several nodes; this node takes no part in such jobs (start it with --rendezvous-address, see the README).`);
  return lines.length ? lines.join(" ") : null;
}

async function describeJob(db: PrismaClient, run: LeasedRow): Promise<LeasedJob> {
  const [checkpoint, done] = await Promise.all([
    run.kind === "EVAL" ? null : db.runCheckpoint.findFirst({ where: { runId: run.id }, orderBy: { step: "desc" }, select: { step: true, sha256: true, sizeBytes: true } }),
    run.kind === "EVAL" ? db.evalResult.findMany({ where: { runId: run.id }, select: { caseId: true } }) : [],
  ]);
  return {
    runId: run.id,
    projectId: run.projectId,
    kind: run.kind,
    engine: run.engine,
    config: (run.config ?? {}) as Record<string, unknown>,
    datasetVersionId: run.datasetVersionId,
    modelVersionId: run.modelVersionId,
    suiteVersionId: run.suiteVersionId,
    attempt: run.attempts,
    maxAttempts: run.maxAttempts,
    checkpoint: checkpoint ? { step: checkpoint.step, sha256: checkpoint.sha256, sizeBytes: Number(checkpoint.sizeBytes) } : null,
    doneCaseIds: done.map((d) => d.caseId),
    ...(run.nodeRank !== undefined && run.rendezvousAddress && run.rendezvousPort
      ? { gang: { nodes: Number((run.config as { nodes?: unknown }).nodes), nodeRank: run.nodeRank, address: run.rendezvousAddress, port: run.rendezvousPort } }
      : {}),
  };
}

/**
 * A heartbeat's renewal of the lease on `runId`. A node that was out of touch long enough for its
 * lease to be swept takes the job back if nobody else has (it still has the work in memory).
 */
export async function renewLease(db: PrismaClient, node: NodeActor, runId: string): Promise<LeaseState> {
  const { leaseMs } = queueSettings();
  const renewed = await db.$executeRaw`
    UPDATE "Run" SET "leaseExpiresAt" = ${leaseEnd(leaseMs)}
    WHERE id = ${runId} AND "leaseNodeId" = ${node.nodeId} AND status = 'RUNNING' AND NOT "cancelRequested"`;
  if (renewed === 1) return { state: "held", reclaimed: false };
  // Another node's part of a gang: its own row is renewed (rank 0's is the run's lease).
  const part = await db.$executeRaw`
    UPDATE "RunLease" l SET "expiresAt" = ${leaseEnd(leaseMs)} FROM "Run" r
    WHERE l."runId" = ${runId} AND l."nodeId" = ${node.nodeId} AND l."claimedAt" IS NOT NULL AND r.id = l."runId" AND r.status = 'RUNNING' AND NOT r."cancelRequested"`;
  if (part === 1) return { state: "held", reclaimed: false };
  const run = await db.run.findFirst({ where: { id: runId, project: { orgId: node.orgId } }, select: { status: true, leaseNodeId: true, cancelRequested: true, config: true } });
  if (!run) return { state: "lost", message: "The run no longer exists." };
  if (run.status === "CANCELLED" || run.cancelRequested) return { state: "cancelled", message: "The run was cancelled." };
  // A multi-node attempt that ended (a node of its gang failed or went silent) is never taken back by
  // one node: every node stops, and the job waits for its next gang lease.
  if (runNodes(run.config) > 1) {
    return { state: "lost", message: run.status === "QUEUED" ? "This attempt of the multi-node job ended (a node of its gang failed or stopped); it waits for its next gang lease." : `The run is ${run.status.toLowerCase()}${run.status === "RUNNING" ? " in another gang" : ""}.` };
  }
  if (run.status === "QUEUED") {
    const reclaimedAttempt = await db.$transaction(async (tx) => {
      const rows = await tx.$queryRaw<{ attempts: number }[]>`
        UPDATE "Run" SET status = 'RUNNING', "leaseNodeId" = ${node.nodeId}, "leaseExpiresAt" = ${leaseEnd(leaseMs)}, attempts = attempts + 1
        WHERE id = ${runId} AND status = 'QUEUED' AND NOT "cancelRequested"
        RETURNING attempts`;
      if (rows.length) await recordAudit(tx, node, { orgId: node.orgId, action: "run.lease", resourceType: "Run", resourceId: runId, after: { nodeId: node.nodeId, attempt: rows[0].attempts, reclaimed: true } });
      return rows.length === 1 ? rows[0].attempts : null;
    });
    if (reclaimedAttempt !== null) return { state: "held", reclaimed: true, attempt: reclaimedAttempt };
  }
  if (run.status === "RUNNING" && run.leaseNodeId !== node.nodeId) return { state: "lost", message: "Another node holds this job now." };
  return { state: "lost", message: `The run is ${run.status.toLowerCase()}.` };
}

/** Throws unless `node` holds the lease on a running `runId` (expired but not yet swept still counts). */
export async function assertLeaseHeld(db: Pick<PrismaClient, "run" | "runLease">, node: NodeActor, runId: string, options: { anyGangMember?: boolean } = {}) {
  const run = await db.run.findFirst({
    where: { id: runId, project: { orgId: node.orgId } },
    select: { id: true, projectId: true, kind: true, status: true, config: true, leaseNodeId: true, cancelRequested: true, datasetVersionId: true, modelVersionId: true, suiteVersionId: true },
  });
  if (!run) throw new DomainError("NOT_FOUND", "Run not found.");
  // Every node of a gang reads the job's inputs; only rank 0 (the run's lease) writes.
  if (options.anyGangMember && run.status === "RUNNING" && !run.cancelRequested && run.leaseNodeId !== node.nodeId) {
    if (await db.runLease.findFirst({ where: { runId, nodeId: node.nodeId }, select: { nodeRank: true } })) return run;
  }
  // Told apart from a lost lease: the node then frees the job instead of just dropping it.
  if (run.leaseNodeId === node.nodeId && (run.status === "CANCELLED" || run.cancelRequested)) throw new DomainError("PRECONDITION_FAILED", "The run was cancelled.");
  if (run.leaseNodeId !== node.nodeId || run.status !== "RUNNING") {
    throw new DomainError("CONFLICT", `This node does not hold the job any more (the run is ${run.status.toLowerCase()}${run.status === "RUNNING" ? " on another node" : ""}).`);
  }
  return run;
}

interface AttemptRow {
  id: string;
  projectId: string;
  attempts: number;
  maxAttempts: number;
  cancelRequested: boolean;
  leaseNodeId: string | null;
}

/**
 * Ends the current attempt of a locked RUNNING run: CANCELLED when a cancel was asked for, FAILED
 * when this was the last attempt (with the error), else back to QUEUED for another node.
 */
async function endAttempt(tx: Tx, run: AttemptRow, error: string, retryable: boolean) {
  const last = !retryable || run.attempts >= run.maxAttempts;
  const status = run.cancelRequested ? "CANCELLED" : last ? "FAILED" : "QUEUED";
  const message =
    status === "FAILED"
      ? retryable
        ? `Gave up after ${run.attempts} attempt${run.attempts === 1 ? "" : "s"}. Last error: ${error}`
        : error
      : `Attempt ${run.attempts} of ${run.maxAttempts} failed: ${error}`;
  await tx.$executeRaw`
    UPDATE "Run" SET status = ${status}::"RunStatus", error = ${status === "CANCELLED" ? null : message}, "leaseNodeId" = NULL, "leaseExpiresAt" = NULL,
      "finishedAt" = ${status === "QUEUED" ? null : Prisma.sql`${DB_NOW}`}
    WHERE id = ${run.id}`;
  if (run.leaseNodeId) await tx.gpuNode.updateMany({ where: { id: run.leaseNodeId, currentRunId: run.id }, data: { currentRunId: null } });
  await endGang(tx, run.id);
  return { status, error: status === "CANCELLED" ? null : message };
}

/** The attempt of a multi-node job ended: every node's part goes (the others see "lost" at their next heartbeat). */
async function endGang(tx: Pick<PrismaClient, "runLease" | "gpuNode">, runId: string) {
  const parts = await tx.runLease.findMany({ where: { runId }, select: { nodeId: true } });
  if (!parts.length) return;
  await tx.runLease.deleteMany({ where: { runId } });
  await tx.gpuNode.updateMany({ where: { id: { in: parts.map((p) => p.nodeId) }, currentRunId: runId }, data: { currentRunId: null } });
}

/** The nodes a run's config asks for (1 when absent). */
function runNodes(config: unknown): number {
  const n = Number((config as { nodes?: unknown } | null)?.nodes ?? 1);
  return Number.isInteger(n) && n > 1 ? n : 1;
}

async function orgOfProject(tx: Tx, projectId: string): Promise<string> {
  return (await tx.project.findUniqueOrThrow({ where: { id: projectId }, select: { orgId: true } })).orgId;
}

/** Sweeps expired leases: each job goes back to the queue, or fails after its last attempt. */
export async function reapExpiredLeases(db: PrismaClient): Promise<Array<{ runId: string; status: string }>> {
  const { leaseMs } = queueSettings();
  return db.$transaction(async (tx) => {
    // The run's lease (a one-node job, or rank 0 of a gang), or another node's part of a gang: a gang
    // ends when any of its nodes goes silent (or its row went with a node removed after an outage).
    const expired = await tx.$queryRaw<Array<AttemptRow & { error: string | null; silentPart: number | null }>>`
      SELECT q.id, q."projectId", q.attempts, q."maxAttempts", q."cancelRequested", q."leaseNodeId", q.error,
        (SELECT min(l."nodeRank") FROM "RunLease" l WHERE l."runId" = q.id AND l."nodeRank" > 0 AND l."expiresAt" < ${DB_NOW}) AS "silentPart"
      FROM "Run" q
      WHERE q.target = 'NODE' AND q.status = 'RUNNING' AND (q."leaseExpiresAt" < ${DB_NOW}
        OR EXISTS (SELECT 1 FROM "RunLease" l WHERE l."runId" = q.id AND l."nodeRank" > 0 AND l."expiresAt" < ${DB_NOW})
        OR (${RUN_NODES} > 1 AND (SELECT count(*) FROM "RunLease" l WHERE l."runId" = q.id) < ${RUN_NODES}))
      ORDER BY q."leaseExpiresAt" LIMIT 100
      FOR UPDATE OF q SKIP LOCKED`;
    const out: Array<{ runId: string; status: string }> = [];
    for (const run of expired) {
      // A reason already recorded (a revoked token) says more than "the lease expired".
      const reason =
        run.error && !run.error.startsWith("Attempt ")
          ? run.error
          : run.silentPart !== null
            ? `node rank ${run.silentPart} of the gang stopped renewing its part (no heartbeat for ${leaseMs / 1000} s); every node of the attempt stops.`
            : `the node stopped renewing its lease (no heartbeat for ${leaseMs / 1000} s).`;
      const ended = await endAttempt(tx, run, reason, true);
      await recordAudit(tx, { type: "system" }, { orgId: await orgOfProject(tx, run.projectId), action: "run.leaseExpired", resourceType: "Run", resourceId: run.id, before: { nodeId: run.leaseNodeId, attempt: run.attempts }, after: ended });
      out.push({ runId: run.id, status: ended.status });
    }
    await dropEndedGangs(tx);
    // Cancelled while waiting in the queue: nobody will lease it, so it ends here.
    const cancelled = await tx.$queryRaw<{ id: string; projectId: string }[]>`
      UPDATE "Run" SET status = 'CANCELLED', "finishedAt" = ${DB_NOW}
      WHERE target = 'NODE' AND status = 'QUEUED' AND "cancelRequested" RETURNING id, "projectId"`;
    for (const run of cancelled) {
      await recordAudit(tx, { type: "system" }, { orgId: await orgOfProject(tx, run.projectId), action: "run.cancelled", resourceType: "Run", resourceId: run.id, after: { status: "CANCELLED" } });
      out.push({ runId: run.id, status: "CANCELLED" });
    }
    return out;
  });
}

async function lockLeasedRun(tx: Tx, node: NodeActor, runId: string): Promise<AttemptRow | null> {
  const rows = await tx.$queryRaw<AttemptRow[]>`
    SELECT r.id, r."projectId", r.attempts, r."maxAttempts", r."cancelRequested", r."leaseNodeId" FROM "Run" r JOIN "Project" p ON p.id = r."projectId"
    WHERE r.id = ${runId} AND p."orgId" = ${node.orgId} AND r.status = 'RUNNING' AND r."leaseNodeId" = ${node.nodeId}
    FOR UPDATE OF r`;
  return rows[0] ?? null;
}

/** A running run in which `node` holds a part of the gang (not rank 0), locked; its rank. */
async function lockGangRun(tx: Tx, node: NodeActor, runId: string): Promise<(AttemptRow & { nodeRank: number }) | null> {
  const rows = await tx.$queryRaw<Array<AttemptRow & { nodeRank: number }>>`
    SELECT r.id, r."projectId", r.attempts, r."maxAttempts", r."cancelRequested", r."leaseNodeId", l."nodeRank" FROM "Run" r JOIN "Project" p ON p.id = r."projectId"
    JOIN "RunLease" l ON l."runId" = r.id AND l."nodeId" = ${node.nodeId} AND l."claimedAt" IS NOT NULL
    WHERE r.id = ${runId} AND p."orgId" = ${node.orgId} AND r.status = 'RUNNING'
    FOR UPDATE OF r`;
  return rows[0] ?? null;
}

/**
 * The node reports that its attempt failed; `retryable: false` fails the run at once (e.g. an invalid
 * config). Any node of a gang may: the whole attempt ends, and the others stop at their next heartbeat.
 */
export async function failJob(db: PrismaClient, node: NodeActor, runId: string, error: string, retryable: boolean) {
  return db.$transaction(async (tx) => {
    const part = (await lockLeasedRun(tx, node, runId)) ?? (await lockGangRun(tx, node, runId));
    if (!part) throw new DomainError("CONFLICT", "This node does not hold the job any more.");
    const run = part;
    const where = "nodeRank" in part && part.leaseNodeId !== node.nodeId ? `node rank ${part.nodeRank} (${node.label}): ` : "";
    const ended = await endAttempt(tx, run, `${where}${error}`, retryable);
    await recordAudit(tx, node, { orgId: node.orgId, action: "run.attemptFailed", resourceType: "Run", resourceId: runId, before: { attempt: run.attempts }, after: ended });
    return ended;
  });
}

/** The node stopped a job it was told to stop (cancelled): the run ends CANCELLED and the lease is freed. */
export async function releaseCancelledJob(db: PrismaClient, node: NodeActor, runId: string) {
  return db.$transaction(async (tx) => {
    const rows = await tx.$queryRaw<{ id: string; status: string; cancelRequested: boolean }[]>`
      SELECT r.id, r.status::text AS status, r."cancelRequested" FROM "Run" r JOIN "Project" p ON p.id = r."projectId"
      WHERE r.id = ${runId} AND p."orgId" = ${node.orgId} AND r."leaseNodeId" = ${node.nodeId} FOR UPDATE OF r`;
    const run = rows[0];
    if (!run) return { status: null };
    const cancel = run.status === "RUNNING" && run.cancelRequested;
    await tx.$executeRaw`
      UPDATE "Run" SET "leaseNodeId" = NULL, "leaseExpiresAt" = NULL
        ${cancel ? Prisma.sql`, status = 'CANCELLED', "finishedAt" = ${DB_NOW}` : Prisma.empty}
      WHERE id = ${runId}`;
    await tx.gpuNode.updateMany({ where: { id: node.nodeId, currentRunId: runId }, data: { currentRunId: null } });
    // cancelled while running (the run page ends it at once) or being cancelled: the gang goes with it
    if (cancel || run.status !== "RUNNING") await endGang(tx, runId);
    if (cancel) await recordAudit(tx, node, { orgId: node.orgId, action: "run.cancelled", resourceType: "Run", resourceId: runId, after: { status: "CANCELLED" } });
    return { status: cancel ? "CANCELLED" : run.status };
  });
}

/** Frees the lease after the node finished the run (SUCCEEDED); the run keeps its status. */
export async function clearLease(db: Pick<PrismaClient, "run" | "gpuNode" | "runLease">, node: NodeActor, runId: string) {
  await db.run.updateMany({ where: { id: runId, leaseNodeId: node.nodeId }, data: { leaseNodeId: null, leaseExpiresAt: null } });
  await db.gpuNode.updateMany({ where: { id: node.nodeId, currentRunId: runId }, data: { currentRunId: null } });
  await endGang(db, runId);
}

/**
 * Why a queued node job is still waiting when nodes are online but none has as many GPUs (processes)
 * as it asks for. Null otherwise (it waits its turn or for memory, or no node is online at all).
 */
export async function whyQueued(db: PrismaClient, run: { projectId: string; config: unknown; status: string; target: string }): Promise<string | null> {
  if (run.status !== "QUEUED" || run.target !== "NODE") return null;
  const gpus = Number((run.config as { gpus?: unknown } | null)?.gpus ?? 1) || 1;
  const wanted = runNodes(run.config);
  const project = await db.project.findUniqueOrThrow({ where: { id: run.projectId }, select: { orgId: true } });
  const nodes = await db.gpuNode.findMany({
    where: { orgId: project.orgId, token: { revokedAt: null }, lastSeenAt: { gt: new Date(Date.now() - queueSettings().offlineAfterMs) } },
    select: { engines: true, engineInfo: true, rendezvousAddress: true },
  });
  // none online at all: the run page's NoNodeWarning says so (it watches the nodes live)
  if (!nodes.length || (gpus <= 1 && wanted <= 1)) return null;
  const processes = (n: (typeof nodes)[number]) => (n.engines.includes("torch") ? Number((n.engineInfo as { torch?: { ranks?: number } }).torch?.ranks ?? 1) : 1);
  if (wanted > 1) {
    const suitable = nodes.filter((n) => n.engines.includes("torch") && n.rendezvousAddress !== null && processes(n) >= gpus).length;
    if (suitable >= wanted) return null;
    const each = `${gpus} GPU${gpus === 1 ? "" : "s"} each`;
    return `It asks for ${wanted} nodes with ${each}; ${suitable} suitable node${suitable === 1 ? "" : "s"} online (torch engine, ${each}, started with --rendezvous-address). It stays queued until ${wanted} such nodes are online and idle, or cancel it and ask for fewer.`;
  }
  const widest = Math.max(0, ...nodes.map(processes));
  if (widest >= gpus) return null;
  return `It asks for ${gpus} GPUs on one node; the most any online node offers is ${widest}. It stays queued until a node with ${gpus} (torch engine) connects, or cancel it and ask for fewer.`;
}
