-- CreateTable
CREATE TABLE "ModelVersionFile" (
    "modelVersionId" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,

    CONSTRAINT "ModelVersionFile_pkey" PRIMARY KEY ("modelVersionId","path")
);

-- CreateTable
CREATE TABLE "ModelUpload" (
    "id" TEXT NOT NULL,
    "modelId" TEXT NOT NULL,
    "files" JSONB NOT NULL,
    "manifestHash" TEXT NOT NULL,
    "received" TEXT[],
    "lineage" JSONB NOT NULL DEFAULT '{}',
    "createdById" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModelUpload_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "ModelVersionFile_sha256_idx" ON "ModelVersionFile"("sha256");

-- CreateIndex
CREATE INDEX "ModelUpload_modelId_manifestHash_idx" ON "ModelUpload"("modelId", "manifestHash");

-- AddForeignKey
ALTER TABLE "ModelVersionFile" ADD CONSTRAINT "ModelVersionFile_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelUpload" ADD CONSTRAINT "ModelUpload_modelId_fkey" FOREIGN KEY ("modelId") REFERENCES "Model"("id") ON DELETE CASCADE ON UPDATE CASCADE;
