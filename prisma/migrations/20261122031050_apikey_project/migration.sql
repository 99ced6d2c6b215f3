-- AlterTable
ALTER TABLE "ApiKey" ADD COLUMN     "projectId" TEXT;

-- AlterTable
ALTER TABLE "EvalResult" ADD COLUMN     "completionTokens" INTEGER,
ADD COLUMN     "latencyMs" INTEGER,
ADD COLUMN     "promptTokens" INTEGER;

-- AddForeignKey
ALTER TABLE "ApiKey" ADD CONSTRAINT "ApiKey_projectId_fkey" FOREIGN KEY ("projectId") REFERENCES "Project"("id") ON DELETE CASCADE ON UPDATE CASCADE;
