-- AlterTable
ALTER TABLE "GpuNode" ADD COLUMN     "rendezvousAddress" TEXT;

-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "rendezvousAddress" TEXT,
ADD COLUMN     "rendezvousPort" INTEGER;

-- CreateTable
CREATE TABLE "RunLease" (
    "runId" TEXT NOT NULL,
    "nodeId" TEXT NOT NULL,
    "nodeRank" INTEGER NOT NULL,
    "claimedAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RunLease_pkey" PRIMARY KEY ("runId","nodeRank")
);

-- CreateIndex
CREATE UNIQUE INDEX "RunLease_nodeId_key" ON "RunLease"("nodeId");

-- AddForeignKey
ALTER TABLE "RunLease" ADD CONSTRAINT "RunLease_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunLease" ADD CONSTRAINT "RunLease_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "GpuNode"("id") ON DELETE CASCADE ON UPDATE CASCADE;
