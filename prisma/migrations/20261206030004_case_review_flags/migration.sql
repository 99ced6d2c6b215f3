-- CreateEnum
CREATE TYPE "ClauseChangeKind" AS ENUM ('CHANGED', 'REMOVED');

-- AlterEnum
ALTER TYPE "ReviewItemSource" ADD VALUE 'POLICY_CHANGE';

-- CreateTable
CREATE TABLE "CaseReviewFlag" (
    "id" TEXT NOT NULL,
    "projectId" TEXT NOT NULL,
    "suiteId" TEXT NOT NULL,
    "caseId" TEXT NOT NULL,
    "policyId" TEXT NOT NULL,
    "policyVersionId" TEXT NOT NULL,
    "policyVersion" INTEGER NOT NULL,
    "clauseId" TEXT NOT NULL,
    "clauseNumber" TEXT,
    "clauseTitle" TEXT NOT NULL,
    "change" "ClauseChangeKind" NOT NULL,
    "beforeText" TEXT NOT NULL,
    "afterText" TEXT,
    "reviewItemId" TEXT,
    "resolvedAt" TIMESTAMP(3),
    "resolvedById" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "CaseReviewFlag_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CaseReviewFlag_suiteId_resolvedAt_idx" ON "CaseReviewFlag"("suiteId", "resolvedAt");

-- CreateIndex
CREATE INDEX "CaseReviewFlag_projectId_resolvedAt_idx" ON "CaseReviewFlag"("projectId", "resolvedAt");

-- CreateIndex
CREATE UNIQUE INDEX "CaseReviewFlag_suiteId_caseId_clauseId_policyVersionId_key" ON "CaseReviewFlag"("suiteId", "caseId", "clauseId", "policyVersionId");

-- AddForeignKey
ALTER TABLE "CaseReviewFlag" ADD CONSTRAINT "CaseReviewFlag_suiteId_fkey" FOREIGN KEY ("suiteId") REFERENCES "EvalSuite"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CaseReviewFlag" ADD CONSTRAINT "CaseReviewFlag_policyId_fkey" FOREIGN KEY ("policyId") REFERENCES "Policy"("id") ON DELETE CASCADE ON UPDATE CASCADE;
