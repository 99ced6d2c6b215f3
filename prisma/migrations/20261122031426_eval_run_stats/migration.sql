-- CreateEnum
CREATE TYPE "EvalStatScope" AS ENUM ('RUN', 'TAG', 'CLAUSE', 'TAG_CLAUSE');

-- DropIndex
DROP INDEX "EvalResult_runId_caseId_pass_idx";

-- CreateTable
CREATE TABLE "EvalRunStat" (
    "runId" TEXT NOT NULL,
    "scope" "EvalStatScope" NOT NULL,
    "tag" TEXT NOT NULL,
    "clause" TEXT NOT NULL,
    "cases" INTEGER NOT NULL,
    "passed" INTEGER NOT NULL,

    CONSTRAINT "EvalRunStat_pkey" PRIMARY KEY ("runId","scope","tag","clause")
);

-- AddForeignKey
ALTER TABLE "EvalRunStat" ADD CONSTRAINT "EvalRunStat_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: the stats of every eval run that succeeded before this migration, by the statement
-- server/runs/service.ts (recordEvalRunStats) runs for one run when it succeeds.
WITH run AS (
  SELECT r.id AS "runId", r."suiteVersionId" FROM "Run" r WHERE r.kind = 'EVAL' AND r.status = 'SUCCEEDED'
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
  FROM graded g CROSS JOIN LATERAL unnest(g.tags) t CROSS JOIN LATERAL unnest(g.clauses) cl GROUP BY g."runId", t, cl;
