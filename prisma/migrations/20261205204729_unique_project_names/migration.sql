-- Projects that already share a name within an organization keep the oldest name as it is; each later
-- one gets its slug (unique within the organization) appended, so the index below can be created and
-- every project stays recognisable.
UPDATE "Project" p SET "name" = p."name" || ' (' || p."slug" || ')'
FROM (
  SELECT "id", row_number() OVER (PARTITION BY "orgId", "name" ORDER BY "createdAt", "id") AS n FROM "Project"
) d
WHERE d."id" = p."id" AND d.n > 1;

-- CreateIndex
CREATE UNIQUE INDEX "Project_orgId_name_key" ON "Project"("orgId", "name");
