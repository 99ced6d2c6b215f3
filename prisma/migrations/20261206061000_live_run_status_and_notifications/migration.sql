-- Live views across instances (#26, server/live/bus.ts): every change of a run's status, whichever code
-- path makes it (a node's report, the eval worker, the sweeper, a person's cancel), and every new
-- notification announce themselves as LiveEvent rows in the transaction that makes them.

CREATE FUNCTION "hearth_run_status_live"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' OR NEW."status" IS DISTINCT FROM OLD."status" THEN
    INSERT INTO "LiveEvent" ("channel", "payload")
    VALUES ('runs:' || NEW."projectId", jsonb_build_object('type', 'run', 'runId', NEW."id", 'status', NEW."status"::text, 'kind', NEW."kind"::text, 'target', NEW."target"::text));
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER "Run_status_live" AFTER INSERT OR UPDATE OF "status" ON "Run"
  FOR EACH ROW EXECUTE FUNCTION "hearth_run_status_live"();

CREATE FUNCTION "hearth_notification_live"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO "LiveEvent" ("channel", "payload")
  VALUES ('notifications:' || NEW."userId", jsonb_build_object('type', 'notification', 'id', NEW."id", 'kind', NEW."kind", 'title', NEW."title"));
  RETURN NULL;
END
$$;

CREATE TRIGGER "Notification_live" AFTER INSERT ON "Notification"
  FOR EACH ROW EXECUTE FUNCTION "hearth_notification_live"();
