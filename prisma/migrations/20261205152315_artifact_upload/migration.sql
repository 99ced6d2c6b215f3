-- CreateTable
CREATE TABLE "ArtifactUpload" (
    "orgId" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ArtifactUpload_pkey" PRIMARY KEY ("orgId","sha256")
);

-- AddForeignKey
ALTER TABLE "ArtifactUpload" ADD CONSTRAINT "ArtifactUpload_orgId_fkey" FOREIGN KEY ("orgId") REFERENCES "Organization"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Backfill: what each organization uploaded before this table. Dataset files and run checkpoints
-- were always uploaded by their own organization. A model version's file may have been referenced by
-- sha256 alone (the defect this table closes), so only the organization whose version first
-- referenced it is taken as its uploader.
INSERT INTO "ArtifactUpload" ("orgId", "sha256")
SELECT DISTINCT p."orgId", dv."sha256" FROM "DatasetVersion" dv JOIN "Dataset" d ON d.id = dv."datasetId" JOIN "Project" p ON p.id = d."projectId"
ON CONFLICT DO NOTHING;
INSERT INTO "ArtifactUpload" ("orgId", "sha256")
SELECT DISTINCT p."orgId", c."sha256" FROM "RunCheckpoint" c JOIN "Run" r ON r.id = c."runId" JOIN "Project" p ON p.id = r."projectId"
ON CONFLICT DO NOTHING;
INSERT INTO "ArtifactUpload" ("orgId", "sha256")
SELECT first."orgId", first."artifactSha256" FROM (
  SELECT DISTINCT ON (v."artifactSha256") p."orgId", v."artifactSha256"
  FROM "ModelVersion" v JOIN "Model" m ON m.id = v."modelId" JOIN "Project" p ON p.id = m."projectId"
  WHERE v."artifactSha256" IS NOT NULL
  ORDER BY v."artifactSha256", v."createdAt", v.id
) first
ON CONFLICT DO NOTHING;
