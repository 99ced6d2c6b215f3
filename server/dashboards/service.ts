// Dashboard aggregations, computed in SQL over the stored history (never by loading every result).
//
// Definitions (shown to users on the dashboard too):
// - The scoring run of a model version on a suite: among the version's SUCCEEDED EVAL runs on that
//   suite, those on the latest suite version it was evaluated on; of these, the latest to finish.
// - Score of a model version on a suite: the pass rate (passed / graded cases) of its scoring run.
// - Tag and clause pass rates: the same scoring runs, restricted to the cases that carry the tag or
//   cite the clause in the run's suite version.
// Pass counts come from EvalRunStat (whole run, per tag, per clause, per tag and clause), written
// once when a run succeeds (server/runs/service.ts), and case counts of suite versions from
// SuiteVersionStat, written when a version is inserted: the dashboards never read individual results
// or cases, except the regressions list, which compares two runs case by case. A case's repeated tags
// or clauses count once.
// - Previous production version: the version approved for "production" before the current one (from
//   approved promotion requests); with no such history, the highest version number below it.
import { Prisma, type PrismaClient } from "@/server/db/generated/client";

export const TIME_RANGES = ["7d", "30d", "90d", "365d", "all"] as const;
export type TimeRange = (typeof TIME_RANGES)[number];

export interface DashboardFilters {
  range: TimeRange;
  suiteId?: string;
  tag?: string;
  /** Versions whose tag and clause breakdowns are wanted besides the default ones. */
  versionIds?: string[];
}

/**
 * Breakdowns per tag and clause cover the versions a person can read at once: clauses the latest
 * this-many evaluated versions of each model, tags the latest one; both also every aliased version and
 * the versions asked for.
 */
export const DETAIL_VERSIONS = 4;

const DAY_MS = 86_400_000;
const RUN_HISTORY_LIMIT = 500;

export function rangeStart(range: TimeRange, now = new Date()): Date | null {
  if (range === "all") return null;
  return new Date(now.getTime() - Number.parseInt(range, 10) * DAY_MS);
}

type Db = Pick<PrismaClient, "$queryRaw">;

/** The scoring runs (see the definitions above) of one project's model versions, as a CTE body. */
function scoringRuns(scope: { projectId?: string; orgId?: string }, filters: { from: Date | null; suiteId?: string; versionIds?: string[] }) {
  const where = [
    scope.projectId ? Prisma.sql`m."projectId" = ${scope.projectId}` : Prisma.sql`p."orgId" = ${scope.orgId!}`,
    Prisma.sql`r.kind = 'EVAL' AND r.status = 'SUCCEEDED'`,
    filters.from ? Prisma.sql`r."createdAt" >= ${filters.from}` : null,
    filters.suiteId ? Prisma.sql`sv."suiteId" = ${filters.suiteId}` : null,
    filters.versionIds ? Prisma.sql`r."modelVersionId" = ANY(${filters.versionIds}::text[])` : null,
  ].filter((x): x is Prisma.Sql => x !== null);
  // The run's project must be the model's project: a run can never lend a score across projects.
  return Prisma.sql`
    SELECT DISTINCT ON (r."modelVersionId", sv."suiteId")
      r.id AS "runId", r."modelVersionId", sv."suiteId", r."suiteVersionId", sv.version AS "suiteVersion", r."finishedAt"
    FROM "Run" r
    JOIN "SuiteVersion" sv ON sv.id = r."suiteVersionId"
    JOIN "ModelVersion" mv ON mv.id = r."modelVersionId"
    JOIN "Model" m ON m.id = mv."modelId" AND m."projectId" = r."projectId"
    ${scope.projectId ? Prisma.empty : Prisma.sql`JOIN "Project" p ON p.id = m."projectId"`}
    WHERE ${Prisma.join(where, " AND ")}
    ORDER BY r."modelVersionId", sv."suiteId", sv.version DESC, r."finishedAt" DESC NULLS LAST, r.id DESC`;
}

/** Case ids of the scoring runs' suite versions that carry `tag`, as a CTE body. */
function taggedCases(tag: string) {
  return Prisma.sql`
    SELECT sv.id AS "suiteVersionId", c->>'id' AS "caseId"
    FROM "SuiteVersion" sv CROSS JOIN LATERAL jsonb_array_elements(sv.cases) c
    WHERE sv.id IN (SELECT "suiteVersionId" FROM scoring) AND c->'tags' @> jsonb_build_array(${tag}::text)`;
}

export interface ScoreRow {
  modelVersionId: string;
  suiteId: string;
  suiteVersionId: string;
  suiteVersion: number;
  runId: string;
  finishedAt: Date | null;
  graded: number;
  passed: number;
  passRate: number | null;
}

/** The stats row of a run that counts every case (no tag) or the cases carrying `tag`. */
function runOrTagStat(tag: string | undefined) {
  return tag ? Prisma.sql`st.scope = 'TAG' AND st.tag = ${tag} AND st.clause = ''` : Prisma.sql`st.scope = 'RUN' AND st.tag = '' AND st.clause = ''`;
}

/** The scoring run of each model version and suite, with its pass counts (on `tag`'s cases when given). */
export async function scores(db: Db, scope: { projectId?: string; orgId?: string }, filters: { from: Date | null; suiteId?: string; tag?: string; versionIds?: string[] }): Promise<ScoreRow[]> {
  // A run without a row for the tag has no case carrying it: zero graded. LATERAL ... LIMIT 1 (there
  // is at most one): a primary-key lookup per run. A plain join let PostgreSQL 18 (the embedded
  // database) misjudge the correlated scope, tag and clause columns and skip-scan the whole index.
  const rows = await db.$queryRaw<Omit<ScoreRow, "passRate">[]>`
    SELECT s."modelVersionId", s."suiteId", s."suiteVersionId", s."suiteVersion", s."runId", s."finishedAt",
      COALESCE(st.cases, 0)::int AS graded, COALESCE(st.passed, 0)::int AS passed
    FROM (${scoringRuns(scope, filters)}) s
    LEFT JOIN LATERAL (SELECT st.cases, st.passed FROM "EvalRunStat" st WHERE st."runId" = s."runId" AND ${runOrTagStat(filters.tag)} LIMIT 1) st ON true
    ORDER BY s."modelVersionId", s."suiteId"`;
  return rows.map((r) => ({ ...r, passRate: r.graded ? r.passed / r.graded : null }));
}

export interface LabelRateRow {
  modelVersionId: string;
  suiteId: string;
  label: string;
  cases: number;
  passed: number;
}

/**
 * Pass counts per tag or per clause of the given scoring runs; with `tag`, on the cases carrying it
 * (per tag: that tag's row alone).
 */
export async function labelRates(db: Db, field: "tags" | "clauses", runs: Pick<ScoreRow, "runId" | "modelVersionId" | "suiteId">[], tag?: string): Promise<LabelRateRow[]> {
  if (runs.length === 0) return [];
  const stat =
    field === "tags"
      ? Prisma.sql`st.scope = 'TAG' AND st.clause = '' ${tag ? Prisma.sql`AND st.tag = ${tag}` : Prisma.empty}`
      : tag
        ? Prisma.sql`st.scope = 'TAG_CLAUSE' AND st.tag = ${tag}`
        : Prisma.sql`st.scope = 'CLAUSE' AND st.tag = ''`;
  const label = field === "tags" ? Prisma.sql`st.tag` : Prisma.sql`st.clause`;
  return db.$queryRaw<LabelRateRow[]>`
    SELECT s."modelVersionId", s."suiteId", ${label} AS label, st.cases, st.passed
    FROM unnest(${runs.map((r) => r.runId)}::text[], ${runs.map((r) => r.modelVersionId)}::text[], ${runs.map((r) => r.suiteId)}::text[]) AS s("runId", "modelVersionId", "suiteId")
    CROSS JOIN LATERAL (SELECT st.tag, st.clause, st.cases, st.passed FROM "EvalRunStat" st WHERE st."runId" = s."runId" AND ${stat}) st
    ORDER BY s."modelVersionId", s."suiteId", label`;
}

export interface ClauseRow {
  policyId: string;
  policyTitle: string;
  policyVersion: number;
  clauseId: string;
  number: string | null;
  title: string;
  /** Cases citing the clause in the latest version of each suite (in the suite/tag filter). */
  cases: number;
}

/** The clauses of each policy's latest version, in policy and document order. */
export async function policyClauses(db: Db, projectId: string): Promise<Omit<ClauseRow, "cases">[]> {
  return db.$queryRaw<Omit<ClauseRow, "cases">[]>`
    WITH latest_policy AS (
      SELECT DISTINCT ON (pv."policyId") pv."policyId", p.title AS "policyTitle", pv.version, pv.clauses
      FROM "PolicyVersion" pv JOIN "Policy" p ON p.id = pv."policyId"
      WHERE p."projectId" = ${projectId}
      ORDER BY pv."policyId", pv.version DESC
    )
    SELECT lp."policyId", lp."policyTitle", lp.version AS "policyVersion", cl->>'id' AS "clauseId", cl->>'number' AS number, cl->>'title' AS title
    FROM latest_policy lp
    CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(lp.clauses) = 'array' THEN lp.clauses ELSE '[]'::jsonb END) WITH ORDINALITY AS x(cl, n)
    ORDER BY lp."policyTitle", lp."policyId", x.n`;
}

/**
 * From the latest version of each suite (its SuiteVersionStat rows, never its cases): every tag (for
 * the tag filter, whatever the filters), and how many cases cite each clause (within the suite and tag
 * filters).
 */
async function latestSuiteLabels(db: Db, projectId: string, filters: { suiteId?: string; tag?: string }): Promise<{ tags: string[]; cited: Map<string, number> }> {
  const citing = filters.tag ? Prisma.sql`st.scope = 'TAG_CLAUSE' AND st.tag = ${filters.tag}` : Prisma.sql`st.scope = 'CLAUSE' AND st.tag = ''`;
  const rows = await db.$queryRaw<{ kind: "tag" | "clause"; label: string; cases: number }[]>`
    WITH latest AS (
      SELECT DISTINCT ON (sv."suiteId") sv.id, sv."suiteId" FROM "SuiteVersion" sv JOIN "EvalSuite" s ON s.id = sv."suiteId"
      WHERE s."projectId" = ${projectId} ORDER BY sv."suiteId", sv.version DESC
    )
    SELECT 'tag' AS kind, st.tag AS label, 0 AS cases
    FROM latest l JOIN "SuiteVersionStat" st ON st."suiteVersionId" = l.id AND st.scope = 'TAG' AND st.clause = ''
    GROUP BY st.tag
    UNION ALL
    SELECT 'clause' AS kind, st.clause AS label, sum(st.cases)::int AS cases
    FROM latest l JOIN "SuiteVersionStat" st ON st."suiteVersionId" = l.id AND ${citing}
    ${filters.suiteId ? Prisma.sql`WHERE l."suiteId" = ${filters.suiteId}` : Prisma.empty}
    GROUP BY st.clause`;
  return {
    tags: rows.filter((r) => r.kind === "tag").map((r) => r.label).sort(),
    cited: new Map(rows.filter((r) => r.kind === "clause").map((r) => [r.label, r.cases])),
  };
}

export interface RunHistoryRow {
  id: string;
  kind: string;
  target: string;
  status: string;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  durationMs: number | null;
  tokens: number | null;
  modelName: string | null;
  modelVersion: number | null;
  suiteName: string | null;
  suiteVersion: number | null;
}

const tokensOf = Prisma.sql`COALESCE(
  CASE WHEN jsonb_typeof(r.summary->'tokens') = 'number' THEN (r.summary->>'tokens')::float8 END,
  CASE WHEN jsonb_typeof(r.config->'tokens') = 'number' THEN (r.config->>'tokens')::float8 END)`;
const durationOf = Prisma.sql`(EXTRACT(EPOCH FROM (r."finishedAt" - r."startedAt")) * 1000)::float8`;

function runWhere(projectId: string, filters: { from: Date | null; suiteId?: string }) {
  const parts = [
    Prisma.sql`r."projectId" = ${projectId}`,
    filters.from ? Prisma.sql`r."createdAt" >= ${filters.from}` : null,
    // A suite filter narrows eval runs to that suite; training runs stay (they spend the compute).
    filters.suiteId ? Prisma.sql`(r.kind <> 'EVAL' OR sv."suiteId" = ${filters.suiteId})` : null,
  ].filter((x): x is Prisma.Sql => x !== null);
  return Prisma.join(parts, " AND ");
}

export async function runHistory(db: Db, projectId: string, filters: { from: Date | null; suiteId?: string }): Promise<RunHistoryRow[]> {
  return db.$queryRaw<RunHistoryRow[]>`
    SELECT r.id, r.kind::text AS kind, r.target::text AS target, r.status::text AS status, r."createdAt", r."startedAt", r."finishedAt",
      ${durationOf} AS "durationMs", ${tokensOf} AS tokens,
      m.name AS "modelName", mv.version AS "modelVersion", s.name AS "suiteName", sv.version AS "suiteVersion"
    FROM "Run" r
    LEFT JOIN "SuiteVersion" sv ON sv.id = r."suiteVersionId"
    LEFT JOIN "EvalSuite" s ON s.id = sv."suiteId"
    LEFT JOIN "ModelVersion" mv ON mv.id = r."modelVersionId"
    LEFT JOIN "Model" m ON m.id = mv."modelId" AND m."projectId" = r."projectId"
    WHERE ${runWhere(projectId, filters)}
    ORDER BY r."createdAt" DESC, r.id DESC
    LIMIT ${RUN_HISTORY_LIMIT}`;
}

export interface ComputeRow {
  target: string;
  kind: string;
  runs: number;
  durationMs: number;
  tokens: number | null;
}

/** Where compute went: runs, summed durations and tokens per target and kind. */
export async function computeByTarget(db: Db, projectId: string, filters: { from: Date | null; suiteId?: string }): Promise<ComputeRow[]> {
  return db.$queryRaw<ComputeRow[]>`
    SELECT r.target::text AS target, r.kind::text AS kind, count(*)::int AS runs,
      COALESCE(sum(${durationOf}), 0)::float8 AS "durationMs", sum(${tokensOf})::float8 AS tokens
    FROM "Run" r LEFT JOIN "SuiteVersion" sv ON sv.id = r."suiteVersionId"
    WHERE ${runWhere(projectId, filters)}
    GROUP BY r.target, r.kind
    ORDER BY r.target, r.kind`;
}

/** The project's models with their versions (oldest first) and aliases, in one statement. */
async function projectModels(db: Db, projectId: string) {
  const rows = await db.$queryRaw<{ id: string; name: string; versions: { id: string; version: number; createdAt: number }[]; aliases: { name: string; modelVersionId: string }[] }[]>`
    SELECT m.id, m.name,
      COALESCE((SELECT json_agg(json_build_object('id', mv.id, 'version', mv.version, 'createdAt', (EXTRACT(EPOCH FROM mv."createdAt") * 1000)::float8) ORDER BY mv.version)
        FROM "ModelVersion" mv WHERE mv."modelId" = m.id), '[]'::json) AS versions,
      COALESCE((SELECT json_agg(json_build_object('name', a.name, 'modelVersionId', a."modelVersionId") ORDER BY a.name)
        FROM "ModelAlias" a WHERE a."modelId" = m.id), '[]'::json) AS aliases
    FROM "Model" m WHERE m."projectId" = ${projectId}
    ORDER BY m.name`;
  return rows.map((m) => ({ ...m, versions: m.versions.map((v) => ({ ...v, createdAt: new Date(v.createdAt) })) }));
}

export async function projectDashboard(db: PrismaClient, projectId: string, filters: DashboardFilters, now = new Date()) {
  const from = rangeStart(filters.range, now);
  const f = { from, suiteId: filters.suiteId, tag: filters.tag };
  // Every independent query at once (on PostgreSQL each on its own connection); then the breakdowns,
  // which need to know which versions were evaluated.
  const [models, suites, labels, scoreRows, clauseRows, runs, compute] = await Promise.all([
    projectModels(db, projectId),
    db.evalSuite.findMany({ where: { projectId }, select: { id: true, name: true, thresholds: true }, orderBy: { name: "asc" } }),
    latestSuiteLabels(db, projectId, f),
    scores(db, { projectId }, f),
    policyClauses(db, projectId),
    runHistory(db, projectId, f),
    computeByTarget(db, projectId, f),
  ]);
  const evaluated = new Set(scoreRows.map((r) => r.modelVersionId));
  const requested = new Set(filters.versionIds ?? []);
  const shown = (latest: number) =>
    models.flatMap((m) => {
      const withScores = m.versions.filter((v) => evaluated.has(v.id));
      const aliased = new Set(m.aliases.map((a) => a.modelVersionId));
      return withScores.filter((v, i) => i >= withScores.length - latest || aliased.has(v.id) || requested.has(v.id)).map((v) => v.id);
    });
  const detailVersionIds = shown(DETAIL_VERSIONS);
  const tagVersionIds = shown(1);
  const runsOf = (ids: string[]) => scoreRows.filter((r) => ids.includes(r.modelVersionId));
  const [tagRows, clauseRateRows] = await Promise.all([labelRates(db, "tags", runsOf(tagVersionIds), filters.tag), labelRates(db, "clauses", runsOf(detailVersionIds), filters.tag)]);
  return {
    filters: { ...filters, from },
    suites: suites.map((s) => ({ id: s.id, name: s.name, overallThreshold: thresholdOverall(s.thresholds) })),
    models,
    tags: labels.tags,
    detailVersionIds,
    tagVersionIds,
    scores: scoreRows,
    tagRates: tagRows,
    coverage: { clauses: clauseRows.map((c) => ({ ...c, cases: labels.cited.get(c.clauseId) ?? 0 })), rates: clauseRateRows },
    runs,
    runsTruncated: runs.length >= RUN_HISTORY_LIMIT,
    compute,
  };
}

function thresholdOverall(thresholds: unknown): number | null {
  const value = (thresholds as { overall?: unknown } | null)?.overall;
  return typeof value === "number" ? value : null;
}

export interface RegressionRow {
  suiteId: string;
  suiteName: string;
  caseId: string;
  baseRunId: string;
  candidateRunId: string;
  baseScore: number;
  candidateScore: number;
  basePass: boolean;
  candidatePass: boolean;
}

/**
 * The biggest regressions from `baseVersionId` to `candidateVersionId`: cases of their scoring runs
 * (per suite) that went from pass to fail first, then by how much the score dropped.
 */
export async function versionRegressions(db: PrismaClient, projectId: string, input: { baseVersionId: string; candidateVersionId: string; suiteId?: string; tag?: string; limit: number }) {
  const filters = { from: null, suiteId: input.suiteId, versionIds: [input.baseVersionId, input.candidateVersionId] };
  const tagged = input.tag ? Prisma.sql`, tagged AS MATERIALIZED (${taggedCases(input.tag)})` : Prisma.empty;
  const onlyTagged = input.tag ? Prisma.sql`AND (c."suiteVersionId", cr."caseId") IN (SELECT "suiteVersionId", "caseId" FROM tagged)` : Prisma.empty;
  const rows = await db.$queryRaw<(RegressionRow & { total: number; regressed: number; improved: number })[]>`
    WITH scoring AS MATERIALIZED (${scoringRuns({ projectId }, filters)}) ${tagged},
    pairs AS (
      SELECT c."suiteId", c."suiteVersionId", b."runId" AS "baseRunId", c."runId" AS "candidateRunId"
      FROM scoring c JOIN scoring b ON b."suiteId" = c."suiteId"
      WHERE c."modelVersionId" = ${input.candidateVersionId} AND b."modelVersionId" = ${input.baseVersionId}
    ), changed AS (
      SELECT c."suiteId", cr."caseId", c."baseRunId", c."candidateRunId", br.score AS "baseScore", cr.score AS "candidateScore", br.pass AS "basePass", cr.pass AS "candidatePass"
      FROM pairs c
      JOIN "EvalResult" cr ON cr."runId" = c."candidateRunId"
      JOIN "EvalResult" br ON br."runId" = c."baseRunId" AND br."caseId" = cr."caseId"
      WHERE true ${onlyTagged}
    )
    SELECT ch.*, s.name AS "suiteName",
      count(*) FILTER (WHERE ch."basePass" AND NOT ch."candidatePass") OVER ()::int AS regressed,
      count(*) FILTER (WHERE NOT ch."basePass" AND ch."candidatePass") OVER ()::int AS improved,
      count(*) OVER ()::int AS total
    FROM changed ch JOIN "EvalSuite" s ON s.id = ch."suiteId"
    WHERE (ch."basePass" AND NOT ch."candidatePass") OR ch."candidateScore" < ch."baseScore"
    ORDER BY (ch."basePass" AND NOT ch."candidatePass") DESC, ch."baseScore" - ch."candidateScore" DESC, s.name, ch."caseId"
    LIMIT ${input.limit}`;
  const counts = rows[0] ? { regressed: rows[0].regressed, worse: rows[0].total } : { regressed: 0, worse: 0 };
  return { counts, rows: rows.map(({ total: _t, regressed: _r, improved: _i, ...row }) => row) };
}

/** The organization overview: production models and their scores, recent runs, failing gates, nodes. */
export async function orgOverview(db: PrismaClient, orgId: string, now = new Date()) {
  const weekAgo = new Date(now.getTime() - 7 * DAY_MS);
  const [projects, production, runsThisWeek] = await Promise.all([
    db.project.findMany({ where: { orgId }, select: { id: true, name: true }, orderBy: { name: "asc" } }),
    db.$queryRaw<{ projectId: string; modelId: string; modelName: string; versionId: string; version: number; previousId: string | null; previousVersion: number | null }[]>`
      WITH prod AS (
        SELECT m."projectId", m.id AS "modelId", m.name AS "modelName", mv.id AS "versionId", mv.version
        FROM "ModelAlias" a
        JOIN "Model" m ON m.id = a."modelId"
        JOIN "Project" p ON p.id = m."projectId"
        JOIN "ModelVersion" mv ON mv.id = a."modelVersionId"
        WHERE p."orgId" = ${orgId} AND a.name = 'production'
      ), promoted AS (
        SELECT DISTINCT ON (pr."modelId") pr."modelId", pr."modelVersionId"
        FROM "PromotionRequest" pr JOIN prod ON prod."modelId" = pr."modelId"
        WHERE pr.alias = 'production' AND pr.status = 'APPROVED' AND pr."modelVersionId" <> prod."versionId"
        ORDER BY pr."modelId", pr."decidedAt" DESC NULLS LAST, pr."createdAt" DESC
      )
      SELECT prod.*, prev.id AS "previousId", prev.version AS "previousVersion"
      FROM prod
      LEFT JOIN promoted ON promoted."modelId" = prod."modelId"
      LEFT JOIN LATERAL (
        SELECT mv.id, mv.version FROM "ModelVersion" mv
        WHERE mv."modelId" = prod."modelId" AND (mv.id = promoted."modelVersionId" OR (promoted."modelVersionId" IS NULL AND mv.version < prod.version))
        ORDER BY mv.version DESC LIMIT 1
      ) prev ON true
      ORDER BY prod."modelName"`,
    db.$queryRaw<{ projectId: string; status: string; runs: number }[]>`
      SELECT r."projectId", r.status::text AS status, count(*)::int AS runs
      FROM "Run" r JOIN "Project" p ON p.id = r."projectId"
      WHERE p."orgId" = ${orgId} AND r."createdAt" >= ${weekAgo}
      GROUP BY r."projectId", r.status`,
  ]);
  const versionIds = production.flatMap((p) => (p.previousId ? [p.versionId, p.previousId] : [p.versionId]));
  const [scoreRows, suites] = await Promise.all([
    versionIds.length ? scores(db, { orgId }, { from: null, versionIds }) : Promise.resolve([] as ScoreRow[]),
    db.evalSuite.findMany({ where: { project: { orgId } }, select: { id: true, name: true, projectId: true, thresholds: true }, orderBy: { name: "asc" } }),
  ]);
  const scoreOf = new Map(scoreRows.map((s) => [`${s.modelVersionId}/${s.suiteId}`, s]));
  const models = production.map((p) => ({
    ...p,
    suites: suites
      .filter((s) => s.projectId === p.projectId)
      .map((s) => {
        const current = scoreOf.get(`${p.versionId}/${s.id}`) ?? null;
        const previous = p.previousId ? (scoreOf.get(`${p.previousId}/${s.id}`) ?? null) : null;
        const threshold = thresholdOverall(s.thresholds);
        return {
          suiteId: s.id,
          suiteName: s.name,
          threshold,
          passRate: current?.passRate ?? null,
          graded: current?.graded ?? 0,
          runId: current?.runId ?? null,
          previousPassRate: previous?.passRate ?? null,
          change: current?.passRate != null && previous?.passRate != null ? current.passRate - previous.passRate : null,
          gateFailing: threshold !== null && current?.passRate != null && current.passRate < threshold,
        };
      }),
  }));
  return {
    projects: projects.map((p) => {
      const runs = runsThisWeek.filter((r) => r.projectId === p.id);
      return { ...p, runsThisWeek: runs.reduce((n, r) => n + r.runs, 0), failedRunsThisWeek: runs.filter((r) => r.status === "FAILED").reduce((n, r) => n + r.runs, 0) };
    }),
    production: models,
    runsThisWeek: runsThisWeek.reduce((n, r) => n + r.runs, 0),
    failingGates: models.flatMap((m) => m.suites.filter((s) => s.gateFailing).map((s) => ({ projectId: m.projectId, modelName: m.modelName, version: m.version, suiteName: s.suiteName, passRate: s.passRate, threshold: s.threshold }))),
    // GPU nodes are not modelled yet: the dashboard says so instead of inventing a number.
    nodes: { registered: 0, online: 0 },
  };
}
