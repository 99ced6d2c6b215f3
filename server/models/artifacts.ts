// Model artifacts: Hearth safetensors checkpoints (or Hugging Face folders sent as one ustar archive)
// uploaded by a browser training run or a GPU node, checked, stored content-addressed in the artifact
// store, and registered as a model version with its lineage. One path for both callers, so a model is
// accepted by the same rules everywhere.
import fsp from "node:fs/promises";
import os from "node:os";
import type { Readable } from "node:stream";
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { AuditActor } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { getArtifactStore, receiveToTempFile, UploadTooLarge, type ArtifactStore } from "@/server/storage";
import { recordUpload } from "@/server/storage/uploads";
import { CHECKPOINT_FORMAT, TRAINING_STATE_FORMAT } from "@/gpu/io/checkpoint";
import { decodeSafetensors, SafetensorsError } from "@/gpu/io/safetensors";
import { parameterCount, parameterShapes, validateConfig, type GPTConfig } from "@/gpu/nn/config";
import { loraShapes, type LoraConfig } from "@/gpu/nn/lora";
import { BytePairTokenizer, type TokenizerJSON } from "@/gpu/tokenizer/bpe";
import { createModelVersionIn, modelVersionSelect } from "./service";
import { isTarFile, unpackFolderArchive, type StoredFolder } from "./folder-archives";
import { MAX_FOLDER_BYTES } from "./folders";
import { isTar, TAR_BLOCK } from "@/gpu/io/tar";

/** The largest checkpoint accepted (the checkpoint is read whole to check it, so keep this within memory). */
export const MAX_MODEL_BYTES = Number(process.env.HEARTH_MAX_MODEL_BYTES ?? 1024 * 1024 * 1024);

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);
const TRAINING_KINDS = new Set(["PRETRAIN", "SFT", "LORA"]);

export interface CheckpointDescription {
  config: GPTConfig;
  parameters: number;
  /** Tokens in the checkpoint's own tokenizer. */
  tokenizerVocab: number;
  lora: boolean;
  /** A resumable training state (with AdamW moments) rather than a finished model. */
  trainingState: boolean;
  /** The checkpoint's other string metadata (preset, steps, ...), without config and tokenizer. */
  metadata: Record<string, string>;
}

/**
 * Checks that `bytes` is a Hearth GPT checkpoint that loadGPT can load and evaluate: the safetensors
 * framing, the format tag, a valid config, a tokenizer, and every tensor the config needs with its
 * shape. Throws SafetensorsError saying what is wrong. Needs no GPU.
 */
export function describeCheckpoint(bytes: Uint8Array): CheckpointDescription {
  const file = decodeSafetensors(bytes);
  const { format, config: configJson, tokenizer: tokenizerJson, lora: loraJson, ...rest } = file.metadata;
  if (format !== CHECKPOINT_FORMAT || !configJson) {
    throw new SafetensorsError(`checkpoint: not a Hearth GPT checkpoint (metadata format ${JSON.stringify(format ?? null)}, expected "${CHECKPOINT_FORMAT}")`);
  }
  if (!tokenizerJson) throw new SafetensorsError("checkpoint: no tokenizer in the metadata; Hearth needs it to run the model");
  let config: GPTConfig;
  let tokenizer: BytePairTokenizer;
  let lora: LoraConfig | null = null;
  try {
    config = validateConfig(JSON.parse(configJson) as GPTConfig);
    tokenizer = BytePairTokenizer.fromJSON(JSON.parse(tokenizerJson) as TokenizerJSON);
    if (loraJson) lora = JSON.parse(loraJson) as LoraConfig;
  } catch (e) {
    throw new SafetensorsError(`checkpoint: invalid config, tokenizer or LoRA metadata (${(e as Error).message})`);
  }
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new SafetensorsError(`checkpoint: the tokenizer has ${tokenizer.vocabSize} tokens but the model only ${config.vocabSize}`);
  }
  const shapes = parameterShapes(config);
  const expected: Array<[string, number[]]> = [...shapes];
  if (lora) {
    const params = new Map(shapes.map(([name, shape]) => [name, { shape }]));
    expected.push(...loraShapes({ config, params } as unknown as Parameters<typeof loraShapes>[0], lora));
  }
  for (const [name, shape] of expected) {
    const t = file.tensors.get(name);
    if (!t) throw new SafetensorsError(`checkpoint: missing tensor "${name}" ([${shape.join(", ")}])`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new SafetensorsError(`checkpoint: tensor "${name}" is [${t.shape.join(", ")}], the config needs [${shape.join(", ")}]`);
    }
    if (!FLOAT_DTYPES.has(t.dtype)) throw new SafetensorsError(`checkpoint: tensor "${name}" is ${t.dtype}, expected a floating-point dtype`);
  }
  return { config, parameters: parameterCount(config), tokenizerVocab: tokenizer.vocabSize, lora: lora !== null, trainingState: rest.state === TRAINING_STATE_FORMAT, metadata: rest };
}

export interface StoredModelArtifact extends CheckpointDescription {
  sha256: string;
  sizeBytes: number;
}

/**
 * Streams an uploaded checkpoint to a temp file (hashing it on the way, up to the size limit), checks
 * it with describeCheckpoint, and stores it content-addressed. Training states are refused unless
 * `acceptTrainingState` (for resumable checkpoints of a run). Anything malformed, truncated or too
 * large is refused with a DomainError("BAD_REQUEST") and nothing is stored. The upload is recorded as
 * `owner.orgId`'s, which is what lets that organization (and only it) register a version with it.
 */
export async function storeModelArtifact(owner: ArtifactOwner, body: ReadableStream<Uint8Array> | Readable, options: StoreModelOptions = {}): Promise<StoredModelArtifact> {
  const received = await receiveModelBody(body, options, "checkpoint");
  try {
    return await storeReceivedCheckpoint(owner, received, options);
  } finally {
    await fsp.rm(received.tempPath, { force: true });
  }
}

/** A model as uploaded by a training run: a Hearth checkpoint, or a Hugging Face folder sent as one ustar archive. */
export type UploadedModel = ({ kind: "checkpoint" } & StoredModelArtifact) | { kind: "folder"; folder: StoredFolder };

/**
 * Stores what a training run uploads as its result: a ustar archive (told by its first block) is
 * unpacked into a folder, checked as a folder import is, its files stored one by one; anything else
 * must be a Hearth checkpoint (storeModelArtifact). A checkpoint is held to HEARTH_MAX_MODEL_BYTES,
 * an archive to the folder import's limit (HEARTH_MAX_MODEL_FOLDER_BYTES); nothing stored when refused.
 */
export async function storeUploadedModel(owner: ArtifactOwner, body: ReadableStream<Uint8Array> | Readable, options: StoreModelOptions = {}): Promise<UploadedModel> {
  const received = await receiveModelBody(body, options, "model");
  try {
    if (await isTarFile(received.tempPath)) {
      return { kind: "folder", folder: await unpackFolderArchive(owner, received.tempPath, options.store ?? getArtifactStore()) };
    }
    return { kind: "checkpoint", ...(await storeReceivedCheckpoint(owner, received, options)) };
  } finally {
    await fsp.rm(received.tempPath, { force: true });
  }
}

type ArtifactOwner = { db: Pick<PrismaClient, "artifactUpload">; orgId: string };
type StoreModelOptions = {
  /** A checkpoint's size limit (HEARTH_MAX_MODEL_BYTES). */
  maxBytes?: number;
  /** A folder archive's (a model result): the folder import's limit, HEARTH_MAX_MODEL_FOLDER_BYTES. */
  folderMaxBytes?: number;
  store?: ArtifactStore;
  acceptTrainingState?: boolean;
};

async function receiveModelBody(body: ReadableStream<Uint8Array> | Readable, options: StoreModelOptions, what: "checkpoint" | "model") {
  // A model result that starts like a ustar archive is a folder: it may be as large as a folder import.
  const limits = { maxBytes: options.maxBytes ?? MAX_MODEL_BYTES, tempDir: os.tmpdir(), inspect: undefined as ((chunk: Buffer) => void) | undefined };
  if (what === "model") {
    let head = Buffer.alloc(0);
    limits.inspect = (chunk) => {
      if (head.length >= TAR_BLOCK) return;
      head = Buffer.concat([head, chunk.subarray(0, TAR_BLOCK - head.length)]);
      if (head.length >= TAR_BLOCK && isTar(head)) limits.maxBytes = Math.max(limits.maxBytes, options.folderMaxBytes ?? MAX_FOLDER_BYTES);
    };
  }
  try {
    return await receiveToTempFile(body, limits);
  } catch (error) {
    if (error instanceof UploadTooLarge) throw new DomainError("BAD_REQUEST", `The ${what} was not stored: ${error.message}`);
    throw error;
  }
}

async function storeReceivedCheckpoint(owner: ArtifactOwner, received: { tempPath: string; sha256: string; bytes: number }, options: StoreModelOptions): Promise<StoredModelArtifact> {
  let description: CheckpointDescription;
  try {
    description = describeCheckpoint(await fsp.readFile(received.tempPath));
  } catch (error) {
    if (error instanceof SafetensorsError) {
      // Not even a checkpoint's framing: say what the server takes.
      const neither = error.message.startsWith("safetensors:") || error.message.includes("not a Hearth GPT checkpoint");
      throw new DomainError("BAD_REQUEST", `The checkpoint was not stored: ${error.message}${neither ? " (send a Hearth GPT checkpoint, or a Hugging Face folder as a ustar archive)" : ""}`);
    }
    throw error;
  }
  if (description.trainingState && !options.acceptTrainingState) {
    throw new DomainError("BAD_REQUEST", "The checkpoint was not stored: it is a training state (with optimizer moments), not a finished model; upload the job's final checkpoint.");
  }
  await (options.store ?? getArtifactStore()).putFile(received.tempPath, received.sha256);
  await recordUpload(owner.db, owner.orgId, received.sha256);
  return { ...description, sha256: received.sha256, sizeBytes: received.bytes };
}

export function serializeModelVersion<T extends { sizeBytes: bigint | null }>(version: T): Omit<T, "sizeBytes"> & { sizeBytes: number | null } {
  return { ...version, sizeBytes: version.sizeBytes === null ? null : Number(version.sizeBytes) };
}

/** The model version a run registered, if any (a run registers at most one). */
export async function modelVersionOfRun(db: Pick<PrismaClient, "modelVersion">, runId: string) {
  return db.modelVersion.findFirst({ where: { runId }, select: modelVersionSelect, orderBy: { createdAt: "asc" } });
}

export type ModelVersionWithArtifactInput = {
  /** What the artifact is (architecture, parameters ...; a folder's description); the run's training spec is added as `training`. */
  config: Record<string, unknown>;
  runId?: string;
  datasetVersionId?: string;
  parentVersionId?: string;
} & ({ sha256: string; sizeBytes: number } | { folder: StoredFolder });

/**
 * Registers a stored artifact (a checkpoint, or a folder's files) as the next version of a model, with
 * its lineage; a folder's files become the version's files in the same transaction. With a run: the run
 * must be a training run of the model's project that is running or succeeded; the dataset version and
 * parent default to the run's and must agree with them; and the call is idempotent: a second call for
 * the same run returns the version the first created (`created: false`).
 */
export async function createModelVersionWithArtifact(
  db: PrismaClient,
  actor: AuditActor,
  orgId: string,
  modelId: string,
  input: ModelVersionWithArtifactInput,
  options: { store?: ArtifactStore } = {},
) {
  if ("sha256" in input && !(await (options.store ?? getArtifactStore()).has(input.sha256))) {
    throw new DomainError("PRECONDITION_FAILED", "The artifact is not in the artifact store; upload it first.");
  }
  return db.$transaction(async (tx) => {
    let config: Record<string, unknown> = input.config;
    let { datasetVersionId, parentVersionId } = input;
    let createdById: string | undefined;
    if (input.runId) {
      // Row lock on the run: concurrent uploads for one run wait here, and the second finds the first's version.
      const locked = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM "Run" WHERE id = ${input.runId} FOR UPDATE`;
      const model = await tx.model.findUniqueOrThrow({ where: { id: modelId }, select: { projectId: true } });
      const run = locked.length
        ? await tx.run.findFirst({ where: { id: input.runId, projectId: model.projectId }, select: { kind: true, status: true, config: true, datasetVersionId: true, modelVersionId: true, createdById: true } })
        : null;
      if (!run) throw new DomainError("NOT_FOUND", "Run not found.");
      const existing = await modelVersionOfRun(tx, input.runId);
      if (existing) {
        if (existing.modelId !== modelId) throw new DomainError("CONFLICT", "This run already registered a version of another model.");
        return { version: serializeModelVersion(existing), created: false };
      }
      if (!TRAINING_KINDS.has(run.kind)) throw new DomainError("BAD_REQUEST", `A ${run.kind} run does not produce a model version; only training runs do.`);
      if (run.status !== "RUNNING" && run.status !== "SUCCEEDED") throw new DomainError("PRECONDITION_FAILED", `The run is ${run.status}; only a running or succeeded run registers a model version.`);
      const spec = (run.config ?? {}) as Record<string, unknown>;
      if (typeof spec.modelId === "string" && spec.modelId !== modelId) throw new DomainError("BAD_REQUEST", "This run trains another model of the project; upload its checkpoint there.");
      if (datasetVersionId && run.datasetVersionId && datasetVersionId !== run.datasetVersionId) throw new DomainError("BAD_REQUEST", "datasetVersionId differs from the run's dataset version.");
      if (parentVersionId && run.modelVersionId && parentVersionId !== run.modelVersionId) throw new DomainError("BAD_REQUEST", "parentVersionId differs from the run's parent model version.");
      datasetVersionId ??= run.datasetVersionId ?? undefined;
      parentVersionId ??= run.modelVersionId ?? undefined;
      config = { ...config, training: { kind: run.kind, ...spec } };
      // A node registers the version on behalf of the person who launched the run (the audit names the node).
      if (actor.type === "node" || actor.type === "system") createdById = run.createdById;
    }
    const version = await createModelVersionIn(tx, actor, orgId, modelId, {
      config: config as Prisma.InputJsonValue,
      runId: input.runId,
      datasetVersionId,
      parentVersionId,
      policyVersionIds: [],
      suiteVersionIds: [],
      ...("folder" in input ? { sizeBytes: input.folder.sizeBytes } : { artifactSha256: input.sha256, sizeBytes: input.sizeBytes }),
      createdById,
    });
    if ("folder" in input) {
      await tx.modelVersionFile.createMany({ data: input.folder.files.map((f) => ({ modelVersionId: version.id, path: f.path, sha256: f.sha256, sizeBytes: BigInt(f.size) })) });
    }
    return { version: serializeModelVersion(version), created: true };
  });
}
