-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "agent" BOOLEAN NOT NULL DEFAULT false;
