-- AlterTable
ALTER TABLE "CollabUpdate" ADD COLUMN     "xid" xid8 NOT NULL DEFAULT pg_current_xact_id();
