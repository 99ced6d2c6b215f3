-- Published versions are immutable: the database refuses any UPDATE of a PolicyVersion, SuiteVersion
-- or DatasetVersion, whatever code path tries. (Deleting a whole policy, suite or dataset still
-- cascades to its versions.)
CREATE OR REPLACE FUNCTION hearth_refuse_version_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'published % rows are immutable', TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER "PolicyVersion_immutable" BEFORE UPDATE ON "PolicyVersion" FOR EACH ROW EXECUTE FUNCTION hearth_refuse_version_update();
CREATE TRIGGER "SuiteVersion_immutable" BEFORE UPDATE ON "SuiteVersion" FOR EACH ROW EXECUTE FUNCTION hearth_refuse_version_update();
CREATE TRIGGER "DatasetVersion_immutable" BEFORE UPDATE ON "DatasetVersion" FOR EACH ROW EXECUTE FUNCTION hearth_refuse_version_update();
