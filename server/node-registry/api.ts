// The node API (/api/node/...): what `hearth node` calls, authenticated by its node token. Plain
// HTTP with JSON and raw byte bodies, served by server/main.ts before Next sees the request. Every
// call about a job checks that the calling node holds the job's lease.
import { jsonTooDeep, TOO_DEEP_MESSAGE } from "@/server/http/json-depth";
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { z, ZodError } from "zod";
import type { PrismaClient } from "@/server/db/generated/client";
import type { NodeActor } from "@/server/audit/service";
import { requestContext } from "@/server/audit/request-context";
import { errorResponse } from "@/server/http/respond";
import { caseResultSchema, describeZod, idSchema, metricPointSchema } from "@/contracts/zod";
import { getArtifactStore, type ArtifactStore } from "@/server/storage";
import { logMetrics, recordResults } from "@/server/runs/service";
import { assertLeaseHeld, failJob, jobsOtherEnginesRun, leaseNextJob, NODE_JOB_KINDS, releaseCancelledJob } from "@/server/job-queue/queue";
import { NODE_ENGINES } from "@/contracts/node-protocol";
import { completeEvalJob, completeTrainingJob, storeRunArtifact, storeRunCheckpoint } from "@/server/job-queue/reports";
import { listVersionFiles } from "@/server/models/folders";
import { folderArchiveResponse } from "@/server/models/folder-archives";
import { authenticateNode, heartbeat, NodeAuthError, NodeUnknown, registerNode } from "./service";
import { clientAddress } from "@/server/auth/rate-limit";

const id = idSchema;

const schemas = {
  register: z.object({
    name: z.string().trim().min(1).max(100),
    adapter: z.object({ vendor: z.string().max(200), architecture: z.string().max(200), device: z.string().max(200), description: z.string().max(500) }),
    features: z.array(z.string().max(100)).max(100),
    limits: z.record(z.string().max(100), z.number()),
    memoryBytes: z.number().int().min(0).nullable(),
    version: z.string().max(50),
    // Agents from before engines were reported run webgpu only.
    engines: z
      .array(
        z.object({
          engine: z.enum(NODE_ENGINES as ["webgpu", "torch"]),
          available: z.boolean(),
          reason: z.string().max(2000).optional(),
          versions: z.record(z.string().max(50), z.string().max(200).nullable()).optional(),
          gpus: z.array(z.object({ name: z.string().max(200), memoryBytes: z.number().int().min(0) })).max(64).optional(),
          ranks: z.number().int().min(1).max(64).optional(),
        }),
      )
      .max(2)
      .default([{ engine: "webgpu", available: true }]),
    /** Where peers reach this node as a multi-node job's rendezvous host (--rendezvous-address); absent: no multi-node jobs. */
    rendezvousAddress: z.string().regex(/^[A-Za-z0-9.:\-]{1,253}$/, "a host name or IP address").nullable().default(null),
  }),
  heartbeat: z.object({ runId: id.nullable(), loadedModelVersionIds: z.array(id).max(100) }),
  lease: z.object({
    kinds: z.array(z.enum(NODE_JOB_KINDS as ["PRETRAIN", "SFT", "LORA", "EVAL"])).max(4).default([]),
    /** The node's engines in the order it prefers them for training (default: webgpu, for older agents). */
    engines: z.array(z.enum(NODE_ENGINES as ["webgpu", "torch"])).min(1).max(2).default(["webgpu"]),
    /** Processes the torch engine can run one job as (its GPUs, or --cpu-ranks on a CPU); default 1. */
    ranks: z.number().int().min(1).max(64).default(1),
  }),
  metrics: z.object({ points: z.array(metricPointSchema).min(1).max(10_000) }),
  results: z.object({
    results: z.array(caseResultSchema).min(1).max(1_000),
  }),
  complete: z.object({
    artifactSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    sizeBytes: z.number().int().min(1).optional(),
    modelConfig: z.record(z.string(), z.unknown()).default({}),
    summary: z.record(z.string(), z.unknown()).default({}),
  }),
  fail: z.object({ error: z.string().min(1).max(4_000), retryable: z.boolean() }),
};

class BadRequest extends Error {}

async function json<T extends z.ZodType>(req: Request, schema: T): Promise<z.infer<T>> {
  let body: unknown;
  try {
    const text = await req.text();
    if (jsonTooDeep(text)) throw new BadRequest(TOO_DEEP_MESSAGE);
    body = JSON.parse(text);
  } catch (error) {
    if (error instanceof BadRequest) throw error;
    throw new BadRequest("The body must be JSON.");
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw new BadRequest(describeZod(parsed.error as ZodError).message);
  return parsed.data;
}

function bodyOf(req: Request): ReadableStream<Uint8Array> {
  if (!req.body) throw new BadRequest("Send the bytes as the request body.");
  return req.body;
}

async function streamArtifact(store: ArtifactStore, sha256: string | null | undefined, what: string): Promise<Response> {
  if (!sha256) return notStored(what);
  const stream = await store.open(sha256);
  return new Response(Readable.toWeb(stream) as ReadableStream, { headers: { "content-type": "application/octet-stream", "x-content-sha256": sha256 } });
}

const notStored = (what: string) => Response.json({ error: { code: "NOT_FOUND", message: `${what} has no stored artifact.` } }, { status: 404 });

/** A model version as one artifact: its checkpoint, or its folder's files as a ustar archive. */
async function streamModelVersion(db: PrismaClient, store: ArtifactStore, version: { id: string; artifactSha256: string | null } | null, what: string): Promise<Response> {
  if (!version || version.artifactSha256) return streamArtifact(store, version?.artifactSha256, what);
  const files = await listVersionFiles(db, version.id);
  return files.length ? folderArchiveResponse(store, files) : notStored(what);
}

type Handler = (ctx: { db: PrismaClient; req: Request; node: NodeActor & { memoryBytes: bigint | null }; params: string[]; store: ArtifactStore }) => Promise<Response>;

const ok = (value: unknown, status = 200) => Response.json(value, { status });

/** [method, path pattern, handler]; `register` is the only call without a node id. */
const ROUTES: Array<[string, RegExp, Handler]> = [
  ["POST", /^heartbeat$/, async ({ db, req, node }) => ok(await heartbeat(db, node, await json(req, schemas.heartbeat)))],
  ["POST", /^lease$/, async ({ db, req, node }) => {
    const { kinds, engines, ranks } = await json(req, schemas.lease);
    const job = await leaseNextJob(db, node, { memoryBytes: node.memoryBytes, kinds, engines, ranks });
    return ok(job ? { job } : { job, waiting: await jobsOtherEnginesRun(db, node, engines, ranks) });
  }],
  ["GET", /^runs\/([^/]+)\/dataset$/, async ({ db, node, params, store }) => {
    const run = await assertLeaseHeld(db, node, params[0], { anyGangMember: true });
    const version = run.datasetVersionId ? await db.datasetVersion.findUnique({ where: { id: run.datasetVersionId }, select: { sha256: true } }) : null;
    return streamArtifact(store, version?.sha256, "The run's dataset version");
  }],
  ["GET", /^runs\/([^/]+)\/model$/, async ({ db, node, params, store }) => {
    const run = await assertLeaseHeld(db, node, params[0], { anyGangMember: true });
    const version = run.modelVersionId ? await db.modelVersion.findUnique({ where: { id: run.modelVersionId }, select: { id: true, artifactSha256: true } }) : null;
    return streamModelVersion(db, store, version, "The run's model version");
  }],
  ["GET", /^runs\/([^/]+)\/cases$/, async ({ db, node, params }) => {
    const run = await assertLeaseHeld(db, node, params[0], { anyGangMember: true });
    if (!run.suiteVersionId) return ok({ error: { code: "NOT_FOUND", message: "The run has no suite version." } }, 404);
    const version = await db.suiteVersion.findUniqueOrThrow({ where: { id: run.suiteVersionId }, select: { cases: true } });
    return ok({ cases: version.cases });
  }],
  ["GET", /^runs\/([^/]+)\/checkpoints\/(\d+)$/, async ({ db, node, params, store }) => {
    await assertLeaseHeld(db, node, params[0], { anyGangMember: true });
    const checkpoint = await db.runCheckpoint.findUnique({ where: { runId_step: { runId: params[0], step: Number(params[1]) } }, select: { sha256: true } });
    return streamArtifact(store, checkpoint?.sha256, `Checkpoint ${params[1]}`);
  }],
  ["PUT", /^runs\/([^/]+)\/checkpoints\/(\d+)$/, async ({ db, req, node, params, store }) => ok(await storeRunCheckpoint(db, node, params[0], Number(params[1]), bodyOf(req), { store }), 201)],
  ["PUT", /^runs\/([^/]+)\/artifact$/, async ({ db, req, node, params, store }) => ok(await storeRunArtifact(db, node, params[0], bodyOf(req), { store }), 201)],
  ["POST", /^runs\/([^/]+)\/metrics$/, async ({ db, req, node, params }) => {
    const { points } = await json(req, schemas.metrics);
    await assertLeaseHeld(db, node, params[0]);
    return ok(await logMetrics(db, node, node.orgId, params[0], points));
  }],
  ["POST", /^runs\/([^/]+)\/results$/, async ({ db, req, node, params }) => {
    const { results } = await json(req, schemas.results);
    await assertLeaseHeld(db, node, params[0]);
    return ok(await recordResults(db, node, node.orgId, params[0], results));
  }],
  ["POST", /^runs\/([^/]+)\/complete$/, async ({ db, req, node, params, store }) => {
    const input = await json(req, schemas.complete);
    if (!input.artifactSha256) return ok(await completeEvalJob(db, node, params[0]));
    if (!input.sizeBytes) throw new BadRequest("sizeBytes: is required with artifactSha256");
    return ok(await completeTrainingJob(db, node, params[0], { artifactSha256: input.artifactSha256, sizeBytes: input.sizeBytes, modelConfig: input.modelConfig, summary: input.summary }, { store }));
  }],
  ["POST", /^runs\/([^/]+)\/fail$/, async ({ db, req, node, params }) => {
    const { error, retryable } = await json(req, schemas.fail);
    return ok(await failJob(db, node, params[0], error, retryable));
  }],
  ["POST", /^runs\/([^/]+)\/release$/, async ({ db, node, params }) => ok(await releaseCancelledJob(db, node, params[0]))],
  ["GET", /^model-versions\/([^/]+)\/artifact$/, async ({ db, node, params, store }) => {
    const version = await db.modelVersion.findFirst({ where: { id: params[0], model: { project: { orgId: node.orgId } } }, select: { id: true, artifactSha256: true } });
    if (!version) return ok({ error: { code: "NOT_FOUND", message: "Model version not found." } }, 404);
    return streamModelVersion(db, store, version, "This model version");
  }],
];

export const NODE_API_PREFIX = "/api/node/";

/** Serves one node API request. `path` is the URL path after /api/node/. */
export async function handleNodeApi(db: PrismaClient, req: Request, options: { store?: ArtifactStore } = {}): Promise<Response> {
  const path = new URL(req.url).pathname.slice(NODE_API_PREFIX.length);
  return requestContext.run({ requestId: randomUUID() }, async () => {
    try {
      if (req.method === "POST" && path === "register") {
        return ok(await registerNode(db, req.headers.get("authorization"), await json(req, schemas.register), clientAddress(req.headers)), 201);
      }
      for (const [method, pattern, handler] of ROUTES) {
        const match = pattern.exec(path);
        if (!match) continue;
        if (req.method !== method) continue;
        const node = await authenticateNode(db, req.headers);
        return await handler({ db, req, node, params: match.slice(1).map(decodeURIComponent), store: options.store ?? getArtifactStore() });
      }
      return ok({ error: { code: "NOT_FOUND", message: `No node API at ${req.method} /api/node/${path}.` } }, 404);
    } catch (error) {
      if (error instanceof NodeAuthError) return ok({ error: { code: "UNAUTHORIZED", message: error.message } }, 401);
      if (error instanceof NodeUnknown) return ok({ error: { code: "GONE", message: error.message } }, 410);
      if (error instanceof BadRequest) return ok({ error: { code: "BAD_REQUEST", message: error.message } }, 400);
      return errorResponse(error);
    }
  });
}
