// Model ids of the OpenAI-compatible API: `<projectSlug>/<modelName>:<tag>`, where the tag is a
// version (`v3`), an alias (`production`, `candidate`, ...) or `latest` (also implied when there is no
// tag). A key sees the projects it may reach: one project for a project key, every project of its
// organization otherwise. Only versions with a stored artifact can be served.
import type { PrismaClient } from "@/server/db/generated/client";

/** What a caller reaches: an organization, or one project of it (an API key is one of these). */
export interface ModelScope {
  orgId: string;
  projectId?: string;
}

export interface ServableModel {
  /** The id clients send as `model`. */
  id: string;
  modelVersionId: string;
  projectId: string;
  projectSlug: string;
  created: Date;
}

function reachableProjects(scope: ModelScope) {
  return scope.projectId ? { id: scope.projectId, orgId: scope.orgId } : { orgId: scope.orgId };
}

/** Every id the key can call: each servable version, each alias on one, each model's latest. */
export async function listServableModels(db: PrismaClient, scope: ModelScope): Promise<ServableModel[]> {
  const projects = await db.project.findMany({
    where: reachableProjects(scope),
    select: {
      id: true,
      slug: true,
      models: {
        select: {
          name: true,
          aliases: { select: { name: true, modelVersionId: true } },
          // servable: a checkpoint, or a Hugging Face folder (its files travel to the node as one archive)
          versions: { where: { OR: [{ artifactSha256: { not: null } }, { files: { some: {} } }] }, select: { id: true, version: true, createdAt: true }, orderBy: { version: "desc" } },
        },
        orderBy: { name: "asc" },
      },
    },
    orderBy: { slug: "asc" },
  });
  const out: ServableModel[] = [];
  for (const project of projects) {
    for (const model of project.models) {
      if (!model.versions.length) continue;
      const base = `${project.slug}/${model.name}`;
      const byId = new Map(model.versions.map((v) => [v.id, v]));
      const entry = (tag: string, v: { id: string; createdAt: Date }) => ({ id: `${base}:${tag}`, modelVersionId: v.id, projectId: project.id, projectSlug: project.slug, created: v.createdAt });
      out.push(entry("latest", model.versions[0]));
      for (const alias of [...model.aliases].sort((a, b) => a.name.localeCompare(b.name))) {
        const v = byId.get(alias.modelVersionId);
        if (v) out.push(entry(alias.name, v));
      }
      for (const v of model.versions) out.push(entry(`v${v.version}`, v));
    }
  }
  return out;
}

/** Splits `<project>/<model>[:<tag>]`; the tag is after the last colon (model names may hold colons). */
function parseModelId(id: string): { projectSlug: string; candidates: { name: string; tag: string }[] } | null {
  const slash = id.indexOf("/");
  if (slash <= 0) return null;
  const projectSlug = id.slice(0, slash);
  const rest = id.slice(slash + 1);
  if (!rest) return null;
  const colon = rest.lastIndexOf(":");
  const candidates = [{ name: rest, tag: "latest" }];
  if (colon > 0 && colon < rest.length - 1) candidates.unshift({ name: rest.slice(0, colon), tag: rest.slice(colon + 1) });
  return { projectSlug, candidates };
}

/**
 * The model version an id names (with its exact `:v<N>` id), if the key may reach it and it has an
 * artifact or a folder; otherwise null. One statement per reading of the id: it runs on every request.
 */
export async function resolveModel(db: PrismaClient, scope: ModelScope, id: string): Promise<ServableModel | null> {
  const parsed = parseModelId(id);
  if (!parsed) return null;
  for (const { name, tag } of parsed.candidates) {
    const numbered = /^v(\d{1,9})$/.exec(tag);
    const kind = tag === "latest" ? "latest" : numbered ? "version" : "alias";
    const [row] = await db.$queryRaw<{ id: string; version: number; createdAt: Date; projectId: string }[]>`
      SELECT v.id, v.version, v."createdAt", p.id AS "projectId"
      FROM "Project" p
      JOIN "Model" m ON m."projectId" = p.id AND m.name = ${name}
      JOIN "ModelVersion" v ON v."modelId" = m.id
        AND (v."artifactSha256" IS NOT NULL OR EXISTS (SELECT 1 FROM "ModelVersionFile" f WHERE f."modelVersionId" = v.id))
      LEFT JOIN "ModelAlias" a ON a."modelId" = m.id AND a.name = ${tag}
      WHERE p."orgId" = ${scope.orgId} AND p.slug = ${parsed.projectSlug} AND (${scope.projectId ?? null}::text IS NULL OR p.id = ${scope.projectId ?? null})
        AND CASE ${kind}::text WHEN 'latest' THEN true WHEN 'version' THEN v.version = ${numbered ? Number(numbered[1]) : -1}::int ELSE v.id = a."modelVersionId" END
      ORDER BY v.version DESC
      LIMIT 1`;
    // Answers name the exact version that ran, whatever tag was asked for.
    if (row) return { id: `${parsed.projectSlug}/${name}:v${row.version}`, modelVersionId: row.id, projectId: row.projectId, projectSlug: parsed.projectSlug, created: row.createdAt };
  }
  return null;
}
