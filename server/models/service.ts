import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit, type AuditActor } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { caseOutcomes } from "@/server/runs/service";
import { judgeOfRun, judgeStandings } from "@/server/review/calibration";
import { gate, type GateReport, type Thresholds } from "@/server/runs/gate";
import { jsonValue } from "@/server/db/json";
import { uploadedBy } from "@/server/storage/uploads";

/** Aliases that can only move through a gated, two-person promotion. */
export const PROTECTED_ALIASES = new Set(["production"]);

export const modelVersionSelect = {
  id: true,
  modelId: true,
  version: true,
  config: true,
  artifactSha256: true,
  sizeBytes: true,
  parentId: true,
  runId: true,
  datasetVersionId: true,
  policyVersionIds: true,
  suiteVersionIds: true,
  createdById: true,
  createdAt: true,
} as const;

export async function createModel(db: PrismaClient, actor: Actor, orgId: string, projectId: string, name: string) {
  return db.$transaction(async (tx) => {
    if (await tx.model.findUnique({ where: { projectId_name: { projectId, name } }, select: { id: true } })) {
      throw new DomainError("CONFLICT", `A model named "${name}" already exists in this project.`);
    }
    const model = await tx.model.create({ data: { projectId, name, createdById: actorId(actor) }, select: { id: true, name: true, projectId: true, createdAt: true } });
    await recordAudit(tx, actor, { orgId, action: "model.create", resourceType: "Model", resourceId: model.id, after: model });
    return model;
  });
}

export type ModelVersionInput = {
  /** Who the version is recorded as created by; defaults to the acting person or API key. */
  createdById?: string;
  config: Prisma.InputJsonValue;
  parentVersionId?: string;
  runId?: string;
  datasetVersionId?: string;
  policyVersionIds: string[];
  suiteVersionIds: string[];
  artifactSha256?: string;
  sizeBytes?: number;
};

export async function createModelVersion(db: PrismaClient, actor: Actor, orgId: string, modelId: string, input: ModelVersionInput) {
  return db.$transaction((tx) => createModelVersionIn(tx, actor, orgId, modelId, input));
}

/** createModelVersion inside a transaction the caller holds (to combine it with other checks atomically). */
export async function createModelVersionIn(tx: Prisma.TransactionClient, actor: AuditActor, orgId: string, modelId: string, input: ModelVersionInput) {
  const createdById = input.createdById ?? (actor.type === "user" || actor.type === "apiKey" ? actorId(actor) : null);
  if (!createdById) throw new Error("createModelVersionIn: a node or the system must name createdById");
  const model = await tx.model.findUniqueOrThrow({ where: { id: modelId }, select: { projectId: true } });
  if (input.parentVersionId && !(await tx.modelVersion.findFirst({ where: { id: input.parentVersionId, model: { projectId: model.projectId } }, select: { id: true } }))) {
    throw new DomainError("NOT_FOUND", "Parent model version not found.");
  }
  if (input.runId && !(await tx.run.findFirst({ where: { id: input.runId, projectId: model.projectId }, select: { id: true } }))) {
    throw new DomainError("NOT_FOUND", "Run not found.");
  }
  if (input.datasetVersionId && !(await tx.datasetVersion.findFirst({ where: { id: input.datasetVersionId, dataset: { projectId: model.projectId } }, select: { id: true } }))) {
    throw new DomainError("NOT_FOUND", "Dataset version not found.");
  }
  // The artifact store is shared by all organizations: a hash must name content this organization uploaded.
  if (input.artifactSha256 && !(await uploadedBy(tx, orgId, input.artifactSha256))) {
    throw new DomainError("NOT_FOUND", "No artifact with this sha256 was uploaded to this organization; upload the file first.");
  }
  const latest = await tx.modelVersion.findFirst({ where: { modelId }, orderBy: { version: "desc" }, select: { version: true } });
  const version = await tx.modelVersion.create({
    data: {
      modelId,
      version: (latest?.version ?? 0) + 1,
      config: input.config,
      parentId: input.parentVersionId,
      runId: input.runId,
      datasetVersionId: input.datasetVersionId,
      policyVersionIds: input.policyVersionIds,
      suiteVersionIds: input.suiteVersionIds,
      artifactSha256: input.artifactSha256,
      sizeBytes: input.sizeBytes === undefined ? undefined : BigInt(input.sizeBytes),
      createdById,
    },
    select: modelVersionSelect,
  });
  await recordAudit(tx, actor, { orgId, action: "model.createVersion", resourceType: "ModelVersion", resourceId: version.id, after: { ...version, sizeBytes: version.sizeBytes?.toString() } });
  return version;
}

export async function setAlias(db: PrismaClient, actor: Actor, orgId: string, modelId: string, alias: string, modelVersionId: string) {
  if (PROTECTED_ALIASES.has(alias)) {
    throw new DomainError("FORBIDDEN", `"${alias}" is protected: request a promotion, which needs a passing gate and a second admin's approval.`);
  }
  return db.$transaction(async (tx) => {
    await ensureVersionOfModel(tx, modelId, modelVersionId);
    const before = await tx.modelAlias.findUnique({ where: { modelId_name: { modelId, name: alias } } });
    const after = await tx.modelAlias.upsert({
      where: { modelId_name: { modelId, name: alias } },
      create: { modelId, name: alias, modelVersionId },
      update: { modelVersionId },
    });
    await recordAudit(tx, actor, { orgId, action: "model.setAlias", resourceType: "ModelAlias", resourceId: after.id, before, after });
    return after;
  });
}

async function ensureVersionOfModel(tx: Pick<PrismaClient, "modelVersion">, modelId: string, modelVersionId: string) {
  const found = await tx.modelVersion.findFirst({ where: { id: modelVersionId, modelId }, select: { id: true } });
  if (!found) throw new DomainError("NOT_FOUND", "Model version not found in this model.");
}

/** The latest successful eval run of a model version on a suite version, or null. */
async function latestEvalRun(db: Pick<PrismaClient, "run">, modelVersionId: string, suiteVersionId: string) {
  return db.run.findFirst({
    where: { modelVersionId, suiteVersionId, kind: "EVAL", status: "SUCCEEDED" },
    orderBy: { finishedAt: "desc" },
    select: { id: true, target: true, config: true },
  });
}

export interface GateJudge {
  run: "candidate" | "baseline";
  judgeEndpointId: string;
  name: string;
  calibrated: boolean;
  /** Why it is not calibrated, when it is not. */
  reason: string | null;
  /** The run's cases with a verdict of this judge. */
  cases: number;
}

/** The judges whose rubric verdicts a gate's runs hold, and whether each is calibrated (the project's calibrations read once). */
async function gateJudges(db: PrismaClient, projectId: string, runs: { role: GateJudge["run"]; run: { id: string; target: string; config: unknown } | null }[]): Promise<GateJudge[]> {
  const judged: { role: GateJudge["run"]; judgeEndpointId: string; cases: number }[] = [];
  for (const { role, run } of runs) {
    const judgeEndpointId = run ? judgeOfRun(run) : null;
    if (!run || !judgeEndpointId) continue;
    // Counted in the database: the grades themselves are not needed here.
    const [{ cases }] = await db.$queryRaw<{ cases: number }[]>`
      SELECT count(*)::int AS cases FROM "EvalResult"
      WHERE "runId" = ${run.id} AND jsonb_path_exists(grades, '$[*] ? (@.grader == "rubric")')`;
    if (cases) judged.push({ role, judgeEndpointId, cases });
  }
  if (!judged.length) return [];
  const standings = await judgeStandings(db, projectId, [...new Set(judged.map((j) => j.judgeEndpointId))]);
  return judged.map(({ role, judgeEndpointId, cases }) => ({ run: role, judgeEndpointId, ...standings.get(judgeEndpointId)!, cases }));
}

/** Whether thresholds hold at least one check (an overall rate or a tag's). */
function hasThresholds(thresholds: Thresholds | null | undefined): boolean {
  return !!thresholds && (typeof thresholds.overall === "number" || Object.keys(thresholds.tags ?? {}).length > 0);
}

/**
 * The release gate for a candidate version against a baseline (an alias's current version, or a
 * version id), on one suite version, using the suite's thresholds.
 * `strict` (the gate as CI asks for it): a gate that cannot be evaluated is refused with
 * PRECONDITION_FAILED and the reason, rather than reported as passed: a suite with no thresholds
 * (nothing to fail), a candidate run with no results, a named baseline that is neither an alias nor a
 * version of the model, or a baseline with no successful run on the suite version. In either mode, a
 * run whose rubric verdicts come from a judge people have not calibrated is not evaluable, unless the
 * suite's thresholds set `countUncalibratedJudges`. Without strict (a
 * promotion to an alias that may not exist yet) a missing baseline is simply none.
 */
export async function gateModelVersion(
  db: PrismaClient,
  modelId: string,
  input: { candidateVersionId: string; baseline?: string; suiteVersionId: string },
  options: { strict?: boolean } = {},
): Promise<GateReport & { judges: GateJudge[]; candidateRunId: string; baselineRunId: string | null; baselineVersionId: string | null }> {
  await ensureVersionOfModel(db, modelId, input.candidateVersionId);
  const model = await db.model.findUniqueOrThrow({ where: { id: modelId }, select: { projectId: true } });
  const suiteVersion = await db.suiteVersion.findFirst({
    where: { id: input.suiteVersionId, suite: { projectId: model.projectId } },
    select: { id: true, suite: { select: { thresholds: true } } },
  });
  if (!suiteVersion) throw new DomainError("NOT_FOUND", "Suite version not found.");
  const candidateRun = await latestEvalRun(db, input.candidateVersionId, input.suiteVersionId);
  if (!candidateRun) throw new DomainError("PRECONDITION_FAILED", "The candidate has no successful eval run on this suite version; run the eval first.");
  const thresholds = suiteVersion.suite.thresholds as Thresholds | null;
  if (options.strict && !hasThresholds(thresholds)) {
    throw new DomainError("PRECONDITION_FAILED", "The suite has no thresholds, so the gate has nothing to check; set an overall or per-tag threshold on the suite.");
  }

  let baselineVersionId: string | null = null;
  if (input.baseline) {
    const alias = await db.modelAlias.findUnique({ where: { modelId_name: { modelId, name: input.baseline } }, select: { modelVersionId: true } });
    baselineVersionId = alias?.modelVersionId ?? null;
    if (!alias) {
      const version = await db.modelVersion.findFirst({ where: { id: input.baseline, modelId }, select: { id: true } });
      baselineVersionId = version?.id ?? null;
    }
    if (options.strict && !baselineVersionId) {
      throw new DomainError("PRECONDITION_FAILED", `The baseline "${input.baseline}" is neither an alias nor a version of this model.`);
    }
  }
  const baselineRun = baselineVersionId ? await latestEvalRun(db, baselineVersionId, input.suiteVersionId) : null;
  if (options.strict && baselineVersionId && !baselineRun) {
    throw new DomainError("PRECONDITION_FAILED", `The baseline "${input.baseline}" has no successful eval run on this suite version; run the eval first.`);
  }
  const candidate = await caseOutcomes(db, candidateRun.id, input.suiteVersionId);
  if (options.strict && candidate.length === 0) {
    throw new DomainError("PRECONDITION_FAILED", "The candidate's eval run has no results on this suite version's cases.");
  }
  // A judge's verdicts count only once people have calibrated it (server/review/calibration.ts), unless the
  // suite's gate settings say to count them anyway: otherwise the gate cannot be evaluated, in CI or for a promotion.
  const judges = await gateJudges(db, model.projectId, [
    { role: "candidate", run: candidateRun },
    { role: "baseline", run: baselineRun },
  ]);
  const uncalibrated = judges.filter((j) => !j.calibrated);
  if (uncalibrated.length && !thresholds?.countUncalibratedJudges) {
    const which = uncalibrated.map((j) => `the judge "${j.name}" graded ${j.cases} of the ${j.run}'s cases and is not calibrated: ${j.reason}`).join("; ");
    throw new DomainError(
      "PRECONDITION_FAILED",
      `The verdicts of an uncalibrated judge do not count: ${which}. Label its verdicts in a review queue until it meets the project's bar, or set the suite's gate to count uncalibrated judges.`,
    );
  }
  const report = gate(candidate, baselineRun ? await caseOutcomes(db, baselineRun.id, input.suiteVersionId) : null, thresholds ?? {});
  return { ...report, judges, candidateRunId: candidateRun.id, baselineRunId: baselineRun?.id ?? null, baselineVersionId };
}

export async function requestPromotion(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  modelId: string,
  input: { alias: string; modelVersionId: string; suiteVersionId: string },
) {
  const report = await gateModelVersion(db, modelId, { candidateVersionId: input.modelVersionId, baseline: input.alias, suiteVersionId: input.suiteVersionId });
  if (!report.pass) {
    const failed = report.checks.filter((c) => !c.pass).map((c) => `${c.name} ${c.actual === null ? "has no cases" : `${(c.actual * 100).toFixed(1)}%`} < ${(c.required * 100).toFixed(1)}%`);
    throw new DomainError("PRECONDITION_FAILED", `The gate failed: ${failed.join("; ")}.`);
  }
  return db.$transaction(async (tx) => {
    const pending = await tx.promotionRequest.findFirst({ where: { modelId, alias: input.alias, status: "PENDING" }, select: { id: true } });
    if (pending) throw new DomainError("CONFLICT", `A promotion to "${input.alias}" is already waiting for approval.`);
    const request = await tx.promotionRequest.create({
      data: { modelId, alias: input.alias, modelVersionId: input.modelVersionId, suiteVersionId: input.suiteVersionId, gateReport: jsonValue(report), requestedById: actorId(actor) },
    });
    await recordAudit(tx, actor, { orgId, action: "promotion.request", resourceType: "PromotionRequest", resourceId: request.id, after: { alias: input.alias, modelVersionId: input.modelVersionId, gatePass: report.pass } });
    return request;
  });
}

/** A second admin approves: never the requester, never an API key (the procedure admits people only). */
export async function decidePromotion(db: PrismaClient, actor: Actor, orgId: string, promotionId: string, decision: "APPROVED" | "REJECTED") {
  if (actor.type !== "user") throw new DomainError("FORBIDDEN", "Only a person can approve or reject a promotion.");
  return db.$transaction(async (tx) => {
    const request = await tx.promotionRequest.findUniqueOrThrow({ where: { id: promotionId } });
    if (request.status !== "PENDING") throw new DomainError("PRECONDITION_FAILED", `This request is already ${request.status.toLowerCase()}.`);
    if (decision === "APPROVED" && request.requestedById === actor.userId) {
      throw new DomainError("FORBIDDEN", "You requested this promotion; a second admin must approve it.");
    }
    const claimed = await tx.promotionRequest.updateMany({ where: { id: promotionId, status: "PENDING" }, data: { status: decision, decidedById: actor.userId, decidedAt: new Date() } });
    if (claimed.count !== 1) throw new DomainError("CONFLICT", "Someone else decided this request meanwhile.");
    let alias = null;
    if (decision === "APPROVED") {
      const before = await tx.modelAlias.findUnique({ where: { modelId_name: { modelId: request.modelId, name: request.alias } } });
      alias = await tx.modelAlias.upsert({
        where: { modelId_name: { modelId: request.modelId, name: request.alias } },
        create: { modelId: request.modelId, name: request.alias, modelVersionId: request.modelVersionId, protected: PROTECTED_ALIASES.has(request.alias) },
        update: { modelVersionId: request.modelVersionId },
      });
      await recordAudit(tx, actor, { orgId, action: "model.setAlias", resourceType: "ModelAlias", resourceId: alias.id, before, after: alias });
    }
    await recordAudit(tx, actor, { orgId, action: `promotion.${decision === "APPROVED" ? "approve" : "reject"}`, resourceType: "PromotionRequest", resourceId: promotionId, before: { status: "PENDING" }, after: { status: decision } });
    return { id: promotionId, status: decision, alias };
  });
}

/**
 * Each version's latest successful eval run per suite (any version of the suite), with its pass count
 * from the run's stats: the model page's one-glance answer to "how good is this version".
 */
export async function latestScoresByVersion(db: Pick<PrismaClient, "$queryRaw">, modelId: string) {
  return db.$queryRaw<{ modelVersionId: string; suiteId: string; suiteName: string; suiteVersion: number; runId: string; cases: number; passed: number }[]>`
    SELECT DISTINCT ON (r."modelVersionId", sv."suiteId") r."modelVersionId", sv."suiteId", s.name AS "suiteName", sv.version AS "suiteVersion", r.id AS "runId", st.cases, st.passed
    FROM "Run" r
    JOIN "ModelVersion" mv ON mv.id = r."modelVersionId" AND mv."modelId" = ${modelId}
    JOIN "SuiteVersion" sv ON sv.id = r."suiteVersionId"
    JOIN "EvalSuite" s ON s.id = sv."suiteId"
    JOIN "EvalRunStat" st ON st."runId" = r.id AND st.scope = 'RUN'
    WHERE r.kind = 'EVAL' AND r.status = 'SUCCEEDED'
    ORDER BY r."modelVersionId", sv."suiteId", r."finishedAt" DESC NULLS LAST, r.id DESC`;
}
