-- AlterTable
ALTER TABLE "GpuNode" ADD COLUMN     "servingInstanceId" TEXT;

-- CreateTable
CREATE TABLE "WebInstance" (
    "id" TEXT NOT NULL,
    "relayUrl" TEXT NOT NULL,
    "startedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WebInstance_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "WebInstance_lastSeenAt_idx" ON "WebInstance"("lastSeenAt");

-- CreateIndex
CREATE INDEX "GpuNode_servingInstanceId_idx" ON "GpuNode"("servingInstanceId");

-- AddForeignKey
ALTER TABLE "GpuNode" ADD CONSTRAINT "GpuNode_servingInstanceId_fkey" FOREIGN KEY ("servingInstanceId") REFERENCES "WebInstance"("id") ON DELETE SET NULL ON UPDATE CASCADE;
