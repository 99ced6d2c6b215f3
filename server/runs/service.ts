import { Prisma as PrismaNamespace, type Prisma, type PrismaClient, type RunKind, type RunStatus, type RunTarget } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit, type AuditActor } from "@/server/audit/service";
import { assertRunQuota } from "./quota";
import { compareOutcomes } from "./significance";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { canTransition } from "./transitions";
import { publishMetricPoints } from "./events";
import type { CaseOutcome } from "./gate";
import { EndpointEvalConfigSchema, ServerEvalConfigSchema } from "@/server/endpoints/eval-config";
import { announceEndpointRun } from "@/server/endpoints/events";
import { jsonValue } from "@/server/db/json";
import { parseStoredCases, type EvalCase } from "@/contracts/eval-case";
import { policyClauses } from "@/server/dashboards/service";


export const runSelect = {
  id: true,
  projectId: true,
  kind: true,
  target: true,
  status: true,
  config: true,
  suiteVersionId: true,
  modelVersionId: true,
  datasetVersionId: true,
  endpointId: true,
  summary: true,
  error: true,
  createdById: true,
  createdAt: true,
  startedAt: true,
  finishedAt: true,
} as const;


export async function createRun(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  input: { projectId: string; kind: RunKind; target: RunTarget; config: Prisma.InputJsonValue; suiteVersionId?: string; modelVersionId?: string; datasetVersionId?: string; endpointId?: string },
) {
  // An agent's key is held to its run quota whichever way it launches (MCP or the API).
  if (actor.type === "apiKey" && actor.agent) await assertRunQuota(db, actor.keyId);
  // Referenced records must be in the same project; anything else reads as not found.
  if (input.suiteVersionId) {
    const found = await db.suiteVersion.findFirst({ where: { id: input.suiteVersionId, suite: { projectId: input.projectId } }, select: { id: true } });
    if (!found) throw new DomainError("NOT_FOUND", "Suite version not found.");
  }
  if (input.modelVersionId) {
    const found = await db.modelVersion.findFirst({ where: { id: input.modelVersionId, model: { projectId: input.projectId } }, select: { id: true } });
    if (!found) throw new DomainError("NOT_FOUND", "Model version not found.");
  }
  if (input.datasetVersionId) {
    const found = await db.datasetVersion.findFirst({ where: { id: input.datasetVersionId, dataset: { projectId: input.projectId } }, select: { id: true } });
    if (!found) throw new DomainError("NOT_FOUND", "Dataset version not found.");
  }
  if (input.kind === "EVAL" && !input.suiteVersionId) throw new DomainError("BAD_REQUEST", "An eval run needs a published suite version (suiteVersionId).");
  if (input.target === "ENDPOINT") input = { ...input, config: await endpointRunConfig(db, input) };
  else if (input.target === "SERVER") input = { ...input, config: await serverRunConfig(db, input) };
  else if (input.endpointId) throw new DomainError("BAD_REQUEST", "endpointId: only runs with target ENDPOINT call an endpoint.");
  const created = await db.$transaction(async (tx) => {
    const run = await tx.run.create({ data: { ...input, createdById: actorId(actor) }, select: runSelect });
    await recordAudit(tx, actor, { orgId, action: "run.create", resourceType: "Run", resourceId: run.id, after: run });
    return run;
  });
  // The server runs endpoint and server evals itself (server/runs/eval-runner.ts): wake it now.
  if (created.target === "ENDPOINT" || created.target === "SERVER") announceEndpointRun(created.id);
  return created;
}

/** Checks an ENDPOINT run's endpoint(s) are in the project, and returns its config with defaults applied. */
async function endpointRunConfig(db: PrismaClient, input: { projectId: string; kind: RunKind; config: Prisma.InputJsonValue; endpointId?: string }) {
  if (input.kind !== "EVAL") throw new DomainError("BAD_REQUEST", "target: only eval runs can target an endpoint.");
  if (!input.endpointId) throw new DomainError("BAD_REQUEST", "endpointId: an eval run with target ENDPOINT needs the endpoint to call.");
  const parsed = EndpointEvalConfigSchema.safeParse(input.config);
  if (!parsed.success) throw new DomainError("BAD_REQUEST", `config: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ")}`);
  for (const id of [input.endpointId, parsed.data.judgeEndpointId]) {
    if (!id) continue;
    const found = await db.endpoint.findFirst({ where: { id, projectId: input.projectId }, select: { id: true } });
    if (!found) throw new DomainError("NOT_FOUND", "Endpoint not found.");
  }
  return parsed.data as Prisma.InputJsonValue;
}

/** Checks a SERVER run: an eval of a model version, its judge (if any) in the project; returns its config with defaults applied. */
async function serverRunConfig(db: PrismaClient, input: { projectId: string; kind: RunKind; config: Prisma.InputJsonValue; modelVersionId?: string; endpointId?: string }) {
  if (input.kind !== "EVAL" || !input.modelVersionId) throw new DomainError("BAD_REQUEST", "target: the server runs only eval runs of a model version.");
  if (input.endpointId) throw new DomainError("BAD_REQUEST", "endpointId: only runs with target ENDPOINT call an endpoint; a server run's judge is config.judgeEndpointId.");
  const parsed = ServerEvalConfigSchema.safeParse(input.config);
  if (!parsed.success) throw new DomainError("BAD_REQUEST", `config: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`).join("; ")}`);
  if (parsed.data.judgeEndpointId) {
    const found = await db.endpoint.findFirst({ where: { id: parsed.data.judgeEndpointId, projectId: input.projectId }, select: { id: true } });
    if (!found) throw new DomainError("NOT_FOUND", "Endpoint not found.");
  }
  return parsed.data as Prisma.InputJsonValue;
}

export async function transitionRun(
  db: PrismaClient,
  actor: AuditActor,
  orgId: string,
  runId: string,
  to: RunStatus,
  extra: { error?: string; summary?: Prisma.InputJsonValue },
) {
  return db.$transaction(async (tx) => {
    // Locked until the transaction ends: results being recorded (which hold a share lock on the run,
    // see recordResults) are all in or all refused before the summary and the stats are computed.
    await tx.$queryRaw`SELECT id FROM "Run" WHERE id = ${runId} FOR UPDATE`;
    const before = await tx.run.findUniqueOrThrow({ where: { id: runId }, select: runSelect });
    if (!canTransition(before.status, to)) {
      throw new DomainError("PRECONDITION_FAILED", `A ${before.status} run cannot become ${to}.`);
    }
    const now = new Date();
    const summary = to === "SUCCEEDED" && before.kind === "EVAL" ? await finishEvalRun(tx, runId, before.suiteVersionId!, extra.summary) : extra.summary;
    // Conditional on the status read above, so two concurrent transitions cannot both apply.
    const changed = await tx.run.updateMany({
      where: { id: runId, status: before.status },
      data: {
        status: to,
        error: to === "FAILED" ? (extra.error ?? "failed") : undefined,
        summary: summary ?? undefined,
        startedAt: to === "RUNNING" ? now : undefined,
        finishedAt: ["SUCCEEDED", "FAILED", "CANCELLED"].includes(to) ? now : undefined,
      },
    });
    if (changed.count !== 1) throw new DomainError("CONFLICT", "The run changed meanwhile; reload and try again.");
    const after = await tx.run.findUniqueOrThrow({ where: { id: runId }, select: runSelect });
    await recordAudit(tx, actor, { orgId, action: `run.${to.toLowerCase()}`, resourceType: "Run", resourceId: runId, before: { status: before.status }, after: { status: to, error: after.error, summary: after.summary } });
    return after;
  });
}

function assertAcceptsData(status: RunStatus) {
  if (status !== "RUNNING") throw new DomainError("PRECONDITION_FAILED", `The run is ${status}; only a RUNNING run accepts metrics and results.`);
}

/** Endpoint and server evals are run and recorded by the server itself; clients may only cancel them. */
export function assertNotServerRun(target: RunTarget) {
  if (target === "ENDPOINT" || target === "SERVER") throw new DomainError("PRECONDITION_FAILED", "The server runs this eval and records its results itself; you can only cancel it.");
}

/** Appends metric points; a point already stored (same run, name and step) is skipped, so retries are safe. */
export async function logMetrics(db: PrismaClient, actor: AuditActor, orgId: string, runId: string, points: { name: string; step: number; value: number }[]) {
  const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, target: true } });
  assertAcceptsData(run.status);
  assertNotServerRun(run.target);
  const result = await db.$transaction(async (tx) => {
    // Three array parameters instead of one per value: a 10,000-point batch is one short statement.
    const stored = await tx.$executeRaw`
      INSERT INTO "RunMetric" ("runId", name, step, value)
      SELECT ${runId}, * FROM unnest(${points.map((p) => p.name)}::text[], ${points.map((p) => p.step)}::int[], ${points.map((p) => p.value)}::float8[])
      ON CONFLICT DO NOTHING`;
    await recordAudit(tx, actor, { orgId, action: "run.metrics", resourceType: "Run", resourceId: runId, after: { received: points.length, stored } });
    return { received: points.length, stored };
  });
  await publishMetricPoints(db, runId, points);
  return result;
}

export async function readMetrics(db: PrismaClient, runId: string, names?: string[]) {
  // Columnar series aggregated in SQL and sent as JSON text: at 100k points this is several times
  // faster than letting the driver decode Postgres arrays element by element.
  const rows = await db.$queryRaw<{ name: string; steps: string; values: string }[]>`
    SELECT name, json_agg(step ORDER BY step)::text AS steps, json_agg(value ORDER BY step)::text AS values
    FROM "RunMetric" WHERE "runId" = ${runId} ${names?.length ? PrismaSql.names(names) : PrismaSql.empty}
    GROUP BY name ORDER BY name`;
  return rows.map((row) => ({ name: row.name, steps: JSON.parse(row.steps) as number[], values: JSON.parse(row.values) as number[] }));
}

const PrismaSql = {
  empty: PrismaNamespace.empty,
  names: (names: string[]) => PrismaNamespace.sql`AND name IN (${PrismaNamespace.join(names)})`,
};

export interface GradeRecord {
  grader: string;
  score: number;
  pass: boolean;
  reason: string;
}

export async function recordResults(
  db: PrismaClient,
  actor: AuditActor,
  orgId: string,
  runId: string,
  results: { caseId: string; output: string; grades: GradeRecord[]; score: number; pass: boolean }[],
) {
  const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { status: true, kind: true, suiteVersionId: true, target: true } });
  assertAcceptsData(run.status);
  assertNotServerRun(run.target);
  if (run.kind !== "EVAL") throw new DomainError("BAD_REQUEST", "Only eval runs have per-case results.");
  const version = await db.suiteVersion.findUniqueOrThrow({ where: { id: run.suiteVersionId! }, select: { cases: true } });
  const known = new Set(parseStoredCases(version.cases).map((c) => c.id));
  const unknown = results.filter((r) => !known.has(r.caseId)).map((r) => r.caseId);
  if (unknown.length) throw new DomainError("BAD_REQUEST", `These case ids are not in the run's suite version: ${unknown.slice(0, 10).join(", ")}${unknown.length > 10 ? ", ..." : ""}.`);
  return db.$transaction(async (tx) => {
    // Read again under a share lock: a run that became SUCCEEDED meanwhile has its stats computed and
    // takes no more results; one becoming SUCCEEDED now waits for these to be in (see transitionRun).
    const [locked] = await tx.$queryRaw<{ status: RunStatus }[]>`SELECT status FROM "Run" WHERE id = ${runId} FOR SHARE`;
    assertAcceptsData(locked.status);
    const created = await tx.evalResult.createMany({
      data: results.map((r) => ({ runId, caseId: r.caseId, output: r.output, grades: jsonValue(r.grades), score: r.score, pass: r.pass })),
      skipDuplicates: true,
    });
    await recordAudit(tx, actor, { orgId, action: "run.results", resourceType: "Run", resourceId: runId, after: { received: results.length, stored: created.count } });
    return { received: results.length, stored: created.count };
  });
}

/**
 * Inserts the run's EvalRunStat rows (see prisma/schema.prisma): graded and passed cases for the whole
 * run, per tag, per clause and per (tag, clause) of the case in the run's suite version. A case's
 * repeated labels count once; results are read in SQL, never loaded. The migration that created the
 * table backfilled runs that had succeeded before with this same statement (over all such runs).
 */
export async function recordEvalRunStats(tx: Pick<PrismaClient, "$executeRaw">, runId: string): Promise<void> {
  await tx.$executeRaw`
    WITH run AS (
      SELECT r.id AS "runId", r."suiteVersionId" FROM "Run" r WHERE r.id = ${runId}
    ), suite_case AS (
      -- Each case's distinct tags and clauses, once per suite version; a repeated case id means its
      -- last occurrence, as everywhere else.
      SELECT DISTINCT ON (sv.id, c.value->>'id') sv.id AS "suiteVersionId", c.value->>'id' AS "caseId",
        ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(c.value->'tags') = 'array' THEN c.value->'tags' ELSE '[]'::jsonb END) x WHERE x IS NOT NULL) AS tags,
        ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(c.value->'clauses') = 'array' THEN c.value->'clauses' ELSE '[]'::jsonb END) x WHERE x IS NOT NULL) AS clauses
      FROM "SuiteVersion" sv CROSS JOIN LATERAL jsonb_array_elements(sv.cases) WITH ORDINALITY AS c(value, n)
      WHERE sv.id IN (SELECT "suiteVersionId" FROM run)
      ORDER BY sv.id, c.value->>'id', c.n DESC
    ), graded AS (
      SELECT run."runId", er.pass, sc.tags, sc.clauses
      FROM run JOIN "EvalResult" er ON er."runId" = run."runId"
      LEFT JOIN suite_case sc ON sc."suiteVersionId" = run."suiteVersionId" AND sc."caseId" = er."caseId"
    )
    INSERT INTO "EvalRunStat" ("runId", scope, tag, clause, cases, passed)
    SELECT run."runId", 'RUN'::"EvalStatScope", '', '', count(g."runId"), count(*) FILTER (WHERE g.pass)
      FROM run LEFT JOIN graded g ON g."runId" = run."runId" GROUP BY run."runId"
    UNION ALL
    SELECT g."runId", 'TAG'::"EvalStatScope", t, '', count(*), count(*) FILTER (WHERE g.pass)
      FROM graded g CROSS JOIN LATERAL unnest(g.tags) t GROUP BY g."runId", t
    UNION ALL
    SELECT g."runId", 'CLAUSE'::"EvalStatScope", '', cl, count(*), count(*) FILTER (WHERE g.pass)
      FROM graded g CROSS JOIN LATERAL unnest(g.clauses) cl GROUP BY g."runId", cl
    UNION ALL
    SELECT g."runId", 'TAG_CLAUSE'::"EvalStatScope", t, cl, count(*), count(*) FILTER (WHERE g.pass)
      FROM graded g CROSS JOIN LATERAL unnest(g.tags) t CROSS JOIN LATERAL unnest(g.clauses) cl GROUP BY g."runId", t, cl`;
}

/**
 * An eval run becoming SUCCEEDED (inside the transition's transaction): stores its stats and returns
 * its summary, computed from those stats, with whatever else the runner reported (tokens, say).
 */
async function finishEvalRun(tx: Pick<PrismaClient, "$executeRaw" | "$queryRaw" | "suiteVersion">, runId: string, suiteVersionId: string, reported: Prisma.InputJsonValue | undefined) {
  await recordEvalRunStats(tx, runId);
  const stats = await tx.$queryRaw<{ scope: "RUN" | "TAG"; tag: string; cases: number; passed: number }[]>`
    SELECT scope::text AS scope, tag, cases, passed FROM "EvalRunStat" WHERE "runId" = ${runId} AND scope IN ('RUN', 'TAG') ORDER BY scope, tag`;
  const [mean] = await tx.$queryRaw<{ meanScore: number | null }[]>`SELECT avg(score)::float8 AS "meanScore" FROM "EvalResult" WHERE "runId" = ${runId}`;
  const version = await tx.suiteVersion.findUniqueOrThrow({ where: { id: suiteVersionId }, select: { caseCount: true } });
  const run = stats.find((s) => s.scope === "RUN") ?? { cases: 0, passed: 0 };
  const byTag: Record<string, { cases: number; passed: number }> = {};
  for (const s of stats) if (s.scope === "TAG") byTag[s.tag] = { cases: s.cases, passed: s.passed };
  const extra = reported && typeof reported === "object" && !Array.isArray(reported) ? reported : {};
  return {
    ...extra,
    cases: version.caseCount,
    graded: run.cases,
    passed: run.passed,
    passRate: run.cases ? run.passed / run.cases : 0,
    meanScore: mean?.meanScore ?? 0,
    byTag,
    ...(await usageSummary(tx, runId)),
  };
}

/** Latency and tokens over the cases that recorded them (endpoint evals); nothing for other runs. */
async function usageSummary(tx: Pick<PrismaClient, "$queryRaw">, runId: string) {
  const [row] = await tx.$queryRaw<{ answered: bigint; mean: number | null; p50: number | null; p95: number | null; prompt: bigint | null; completion: bigint | null }[]>`
    SELECT count(*) AS answered, avg("latencyMs")::float8 AS mean,
      percentile_cont(0.5) WITHIN GROUP (ORDER BY "latencyMs") AS p50, percentile_cont(0.95) WITHIN GROUP (ORDER BY "latencyMs") AS p95,
      sum("promptTokens") AS prompt, sum("completionTokens") AS completion
    FROM "EvalResult" WHERE "runId" = ${runId} AND "latencyMs" IS NOT NULL`;
  if (!row || row.answered === 0n) return {};
  return {
    usage: {
      answered: Number(row.answered),
      meanLatencyMs: Math.round(row.mean ?? 0),
      p50LatencyMs: Math.round(row.p50 ?? 0),
      p95LatencyMs: Math.round(row.p95 ?? 0),
      promptTokens: row.prompt === null ? null : Number(row.prompt),
      completionTokens: row.completion === null ? null : Number(row.completion),
    },
  };
}

/** Each graded case of a run with its tags from the suite version. */
export async function caseOutcomes(db: Pick<PrismaClient, "evalResult" | "suiteVersion">, runId: string, suiteVersionId: string): Promise<CaseOutcome[]> {
  const [results, version] = await Promise.all([
    db.evalResult.findMany({ where: { runId }, select: { caseId: true, pass: true, score: true } }),
    db.suiteVersion.findUniqueOrThrow({ where: { id: suiteVersionId }, select: { cases: true } }),
  ]);
  const tags = new Map(parseStoredCases(version.cases).map((c) => [c.id, c.tags ?? []]));
  return results.map((r) => ({ ...r, tags: tags.get(r.caseId) ?? [] }));
}

export async function listResults(db: PrismaClient, runId: string, options: { onlyFailures: boolean; cursor?: string; limit: number }) {
  const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { suiteVersionId: true } });
  const rows = await db.evalResult.findMany({
    where: { runId, ...(options.onlyFailures ? { pass: false } : {}) },
    orderBy: { caseId: "asc" },
    take: options.limit + 1,
    ...(options.cursor ? { cursor: { runId_caseId: { runId, caseId: options.cursor } }, skip: 1 } : {}),
  });
  const cases = run.suiteVersionId
    ? new Map(parseStoredCases((await db.suiteVersion.findUniqueOrThrow({ where: { id: run.suiteVersionId }, select: { cases: true } })).cases).map((c) => [c.id, c]))
    : new Map<string, EvalCase>();
  const page = rows.slice(0, options.limit);
  return {
    items: page.map((r) => {
      const c = cases.get(r.caseId);
      return { ...r, grades: r.grades as unknown as GradeRecord[], input: c?.input ?? null, expected: c?.expected ?? null, choices: c?.choices ?? null, tags: c?.tags ?? [] };
    }),
    nextCursor: rows.length > options.limit ? page[page.length - 1].caseId : null,
  };
}

/** Case by case: what regressed, improved, or stayed, between two eval runs. */
export async function compareRuns(db: PrismaClient, projectId: string, baseRunId: string, runId: string) {
  const [base, run] = await Promise.all([
    db.run.findFirst({ where: { id: baseRunId, projectId, kind: "EVAL" }, select: { id: true, suiteVersionId: true, modelVersionId: true, createdAt: true } }),
    db.run.findFirst({ where: { id: runId, projectId, kind: "EVAL" }, select: { id: true, suiteVersionId: true, modelVersionId: true, createdAt: true } }),
  ]);
  if (!base || !run) throw new DomainError("NOT_FOUND", "Eval run not found.");
  const [before, after] = await Promise.all([
    db.evalResult.findMany({ where: { runId: baseRunId }, select: { caseId: true, pass: true, score: true, output: true } }),
    db.evalResult.findMany({ where: { runId }, select: { caseId: true, pass: true, score: true, output: true } }),
  ]);
  const beforeById = new Map(before.map((r) => [r.caseId, r]));
  const rows = after
    .filter((r) => beforeById.has(r.caseId))
    .map((r) => {
      const b = beforeById.get(r.caseId)!;
      const change = b.pass && !r.pass ? "regressed" : !b.pass && r.pass ? "improved" : "unchanged";
      return { caseId: r.caseId, change, before: { pass: b.pass, score: b.score, output: b.output }, after: { pass: r.pass, score: r.score, output: r.output } };
    })
    .sort((x, y) => (x.change === y.change ? x.caseId.localeCompare(y.caseId) : x.change === "regressed" ? -1 : y.change === "regressed" ? 1 : x.change === "improved" ? -1 : 1));
  return {
    base,
    run,
    counts: {
      regressed: rows.filter((r) => r.change === "regressed").length,
      improved: rows.filter((r) => r.change === "improved").length,
      unchanged: rows.filter((r) => r.change === "unchanged").length,
      onlyInBase: before.length - rows.length,
      onlyInRun: after.length - rows.length,
    },
    // Paired tests only where the two runs graded the same suite version (the same cases, the same graders).
    significance: base.suiteVersionId && base.suiteVersionId === run.suiteVersionId ? compareOutcomes(before, after) : null,
    rows,
  };
}

/**
 * What a run's page links to and explains: the model version it trained from or measured, its
 * dataset version, and (eval runs that finished) its pass counts per policy clause, with each clause's
 * policy, number and title from the project's latest policy versions where one still has it.
 */
export async function runContext(db: PrismaClient, run: { projectId: string; modelVersionId: string | null; datasetVersionId: string | null; id: string; kind: RunKind }) {
  const [modelVersion, datasetVersion, clauseStats] = await Promise.all([
    run.modelVersionId
      ? db.modelVersion.findFirst({ where: { id: run.modelVersionId, model: { projectId: run.projectId } }, select: { id: true, version: true, modelId: true, model: { select: { name: true } } } })
      : null,
    run.datasetVersionId
      ? db.datasetVersion.findFirst({ where: { id: run.datasetVersionId, dataset: { projectId: run.projectId } }, select: { id: true, version: true, datasetId: true, dataset: { select: { name: true } } } })
      : null,
    run.kind === "EVAL" ? db.evalRunStat.findMany({ where: { runId: run.id, scope: "CLAUSE" }, select: { clause: true, cases: true, passed: true }, orderBy: { clause: "asc" } }) : [],
  ]);
  const known = clauseStats.length ? new Map((await policyClauses(db, run.projectId)).map((c) => [c.clauseId, c])) : new Map();
  return {
    modelVersion: modelVersion ? { id: modelVersion.id, version: modelVersion.version, modelId: modelVersion.modelId, modelName: modelVersion.model.name } : null,
    datasetVersion: datasetVersion ? { id: datasetVersion.id, version: datasetVersion.version, datasetId: datasetVersion.datasetId, datasetName: datasetVersion.dataset.name } : null,
    clauses: clauseStats.map((s) => {
      const c = known.get(s.clause);
      return { clause: s.clause, cases: s.cases, passed: s.passed, policyId: c?.policyId ?? null, policyTitle: c?.policyTitle ?? null, number: c?.number ?? null, title: c?.title ?? null };
    }),
  };
}

/** Run kinds and targets the server can start again by itself: a browser run is restarted from its Train page. */
const RETRYABLE_TARGETS: RunTarget[] = ["NODE", "ENDPOINT", "SERVER"];

/**
 * A new run with the same kind, target, inputs and config as a run that failed or was cancelled; the
 * old run stays as it ended (runs are records). Queued for the nodes, or woken for an endpoint.
 */
export async function retryRun(db: PrismaClient, actor: Actor, orgId: string, runId: string) {
  const run = await db.run.findUniqueOrThrow({ where: { id: runId }, select: { ...runSelect } });
  if (run.status !== "FAILED" && run.status !== "CANCELLED") throw new DomainError("PRECONDITION_FAILED", `A ${run.status} run cannot be retried; cancel it first, or wait until it ends.`);
  if (!RETRYABLE_TARGETS.includes(run.target)) throw new DomainError("PRECONDITION_FAILED", "A run in the browser is started again from the project's Train page.");
  return createRun(db, actor, orgId, {
    projectId: run.projectId,
    kind: run.kind,
    target: run.target,
    config: (run.config ?? {}) as Prisma.InputJsonValue,
    suiteVersionId: run.suiteVersionId ?? undefined,
    modelVersionId: run.modelVersionId ?? undefined,
    datasetVersionId: run.datasetVersionId ?? undefined,
    endpointId: run.endpointId ?? undefined,
  });
}

/** Runs with the name and number of the model version each trained from or measured, in one query for the page. */
export async function withModelVersionNames<R extends { modelVersionId: string | null }>(db: PrismaClient, projectId: string, runs: R[]) {
  const ids = [...new Set(runs.map((r) => r.modelVersionId).filter((id): id is string => !!id))];
  const versions = ids.length ? await db.modelVersion.findMany({ where: { id: { in: ids }, model: { projectId } }, select: { id: true, version: true, modelId: true, model: { select: { name: true } } } }) : [];
  const byId = new Map(versions.map((v) => [v.id, { id: v.id, version: v.version, modelId: v.modelId, modelName: v.model.name }]));
  return runs.map((r) => ({ ...r, modelVersion: r.modelVersionId ? (byId.get(r.modelVersionId) ?? null) : null }));
}
