-- AlterTable
ALTER TABLE "GpuNode" ADD COLUMN     "engineInfo" JSONB NOT NULL DEFAULT '{}',
ADD COLUMN     "engines" TEXT[] DEFAULT ARRAY['webgpu']::TEXT[];

-- AlterTable
ALTER TABLE "Run" ADD COLUMN     "engine" TEXT;
