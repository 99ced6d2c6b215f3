-- CreateTable
CREATE TABLE "SuiteVersionStat" (
    "suiteVersionId" TEXT NOT NULL,
    "scope" "EvalStatScope" NOT NULL,
    "tag" TEXT NOT NULL,
    "clause" TEXT NOT NULL,
    "cases" INTEGER NOT NULL,

    CONSTRAINT "SuiteVersionStat_pkey" PRIMARY KEY ("suiteVersionId","scope","tag","clause")
);

-- AddForeignKey
ALTER TABLE "SuiteVersionStat" ADD CONSTRAINT "SuiteVersionStat_suiteVersionId_fkey" FOREIGN KEY ("suiteVersionId") REFERENCES "SuiteVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- A suite version's case counts per tag, per clause and per (tag, clause) from its cases (jsonb array
-- of { tags?: string[], clauses?: string[], ... }); a case's repeated labels count once.
CREATE OR REPLACE FUNCTION hearth_case_label_counts(case_list jsonb)
RETURNS TABLE (label_scope "EvalStatScope", label_tag text, label_clause text, label_cases integer)
LANGUAGE sql IMMUTABLE AS $$
  WITH labelled AS (
    SELECT
      ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(c->'tags') = 'array' THEN c->'tags' ELSE '[]'::jsonb END) x WHERE x IS NOT NULL) AS tags,
      ARRAY(SELECT DISTINCT x FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(c->'clauses') = 'array' THEN c->'clauses' ELSE '[]'::jsonb END) x WHERE x IS NOT NULL) AS clauses
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(case_list) = 'array' THEN case_list ELSE '[]'::jsonb END) c
  )
  SELECT 'TAG'::"EvalStatScope", t, '', count(*)::int FROM labelled CROSS JOIN LATERAL unnest(labelled.tags) t GROUP BY t
  UNION ALL
  SELECT 'CLAUSE'::"EvalStatScope", '', cl, count(*)::int FROM labelled CROSS JOIN LATERAL unnest(labelled.clauses) cl GROUP BY cl
  UNION ALL
  SELECT 'TAG_CLAUSE'::"EvalStatScope", t, cl, count(*)::int FROM labelled CROSS JOIN LATERAL unnest(labelled.tags) t CROSS JOIN LATERAL unnest(labelled.clauses) cl GROUP BY t, cl
$$;

-- Every inserted suite version gets its counts, whatever code path publishes it.
CREATE OR REPLACE FUNCTION hearth_suite_version_stats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "SuiteVersionStat" ("suiteVersionId", "scope", "tag", "clause", "cases")
  SELECT NEW.id, s.* FROM hearth_case_label_counts(NEW.cases) s;
  RETURN NULL;
END;
$$;

CREATE TRIGGER "SuiteVersion_stats" AFTER INSERT ON "SuiteVersion" FOR EACH ROW EXECUTE FUNCTION hearth_suite_version_stats();

-- Backfill: the versions published before this migration.
INSERT INTO "SuiteVersionStat" ("suiteVersionId", "scope", "tag", "clause", "cases")
SELECT sv.id, s.* FROM "SuiteVersion" sv CROSS JOIN LATERAL hearth_case_label_counts(sv.cases) s;
