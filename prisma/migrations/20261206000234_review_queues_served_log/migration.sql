-- CreateEnum
CREATE TYPE "ReviewAssignment" AS ENUM ('ANYONE', 'NAMED', 'ROUND_ROBIN');

-- CreateEnum
CREATE TYPE "ReviewItemSource" AS ENUM ('EVAL_RESULT', 'SERVED_REQUEST', 'MANUAL');

-- AlterEnum
ALTER TYPE "DatasetKind" ADD VALUE 'PREFERENCE';

-- AlterTable
ALTER TABLE "Project" ADD COLUMN     "servedLogEnabled" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "servedLogRetentionDays" INTEGER NOT NULL DEFAULT 30;

-- CreateTable
CREATE TABLE "ReviewQueue" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "scoreSchema" JSONB NOT NULL,
    "source" JSONB NOT NULL DEFAULT '{}',
    "servedSampleRate" DOUBLE PRECISION NOT NULL DEFAULT 0,
    "assignment" "ReviewAssignment" NOT NULL DEFAULT 'ANYONE',
    "assigneeIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "nextAssignee" INTEGER NOT NULL DEFAULT 0,
    "reviewersPerItem" INTEGER NOT NULL DEFAULT 1,
    "lockSeconds" INTEGER NOT NULL DEFAULT 600,
    "createdById" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ReviewQueue_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReviewItem" (
    "id" TEXT NOT NULL,
    "queueId" TEXT NOT NULL,
    "position" INTEGER NOT NULL,
    "source" "ReviewItemSource" NOT NULL,
    "sourceId" TEXT,
    "runId" TEXT,
    "caseId" TEXT,
    "modelVersionId" TEXT,
    "input" TEXT NOT NULL,
    "output" TEXT NOT NULL,
    "expected" TEXT NOT NULL DEFAULT '',
    "clauses" JSONB NOT NULL DEFAULT '[]',
    "assigneeIds" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "lockedById" TEXT,
    "lockExpiresAt" TIMESTAMP(3),
    "labelCount" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ReviewItem_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ReviewLabel" (
    "id" TEXT NOT NULL,
    "itemId" TEXT NOT NULL,
    "queueId" TEXT NOT NULL,
    "reviewerId" TEXT NOT NULL,
    "pass" BOOLEAN,
    "score" DOUBLE PRECISION,
    "category" TEXT,
    "correctedOutput" TEXT,
    "comment" TEXT,
    "modelVersionId" TEXT,
    "caseId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ReviewLabel_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ServedRequest" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "modelVersionId" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "prompt" TEXT NOT NULL,
    "output" TEXT NOT NULL,
    "apiKeyId" TEXT,
    "promptTokens" INTEGER NOT NULL,
    "completionTokens" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ServedRequest_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ReviewQueue_projectId_idx" ON "ReviewQueue"("projectId");

-- CreateIndex
CREATE UNIQUE INDEX "ReviewQueue_projectId_name_key" ON "ReviewQueue"("projectId", "name");

-- CreateIndex
CREATE INDEX "ReviewItem_queueId_labelCount_idx" ON "ReviewItem"("queueId", "labelCount");

-- CreateIndex
CREATE UNIQUE INDEX "ReviewItem_queueId_position_key" ON "ReviewItem"("queueId", "position");

-- CreateIndex
CREATE INDEX "ReviewLabel_queueId_reviewerId_idx" ON "ReviewLabel"("queueId", "reviewerId");

-- CreateIndex
CREATE UNIQUE INDEX "ReviewLabel_itemId_reviewerId_key" ON "ReviewLabel"("itemId", "reviewerId");

-- CreateIndex
CREATE INDEX "ServedRequest_projectId_createdAt_idx" ON "ServedRequest"("projectId", "createdAt");

-- AddForeignKey
ALTER TABLE "ReviewQueue" ADD CONSTRAINT "ReviewQueue_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReviewItem" ADD CONSTRAINT "ReviewItem_queueId_fkey" FOREIGN KEY ("queueId") REFERENCES "ReviewQueue"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ReviewLabel" ADD CONSTRAINT "ReviewLabel_itemId_fkey" FOREIGN KEY ("itemId") REFERENCES "ReviewItem"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ServedRequest" ADD CONSTRAINT "ServedRequest_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
