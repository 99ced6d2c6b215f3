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
      slug: true,
      models: {
        select: {
          name: true,
          aliases: { select: { name: true, modelVersionId: true } },
          versions: { where: { artifactSha256: { not: null } }, select: { id: true, version: true, createdAt: true }, orderBy: { version: "desc" } },
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
      const entry = (tag: string, v: { id: string; createdAt: Date }) => ({ id: `${base}:${tag}`, modelVersionId: v.id, projectSlug: project.slug, created: v.createdAt });
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

/** The model version an id names (with its exact `:v<N>` id), if the key may reach it and it has an artifact; otherwise null. */
export async function resolveModel(db: PrismaClient, scope: ModelScope, id: string): Promise<ServableModel | null> {
  const parsed = parseModelId(id);
  if (!parsed) return null;
  const project = await db.project.findFirst({ where: { ...reachableProjects(scope), slug: parsed.projectSlug }, select: { id: true, slug: true } });
  if (!project) return null;
  for (const { name, tag } of parsed.candidates) {
    const model = await db.model.findUnique({ where: { projectId_name: { projectId: project.id, name } }, select: { id: true } });
    if (!model) continue;
    const servable = { modelId: model.id, artifactSha256: { not: null } };
    const select = { id: true, createdAt: true, version: true } as const;
    let version: { id: string; createdAt: Date; version: number } | null = null;
    const numbered = /^v(\d{1,9})$/.exec(tag);
    if (tag === "latest") version = await db.modelVersion.findFirst({ where: servable, select, orderBy: { version: "desc" } });
    else if (numbered) version = await db.modelVersion.findFirst({ where: { ...servable, version: Number(numbered[1]) }, select });
    else {
      const alias = await db.modelAlias.findUnique({ where: { modelId_name: { modelId: model.id, name: tag } }, select: { modelVersionId: true } });
      if (alias) version = await db.modelVersion.findFirst({ where: { ...servable, id: alias.modelVersionId }, select });
    }
    // Answers name the exact version that ran, whatever tag was asked for.
    if (version) return { id: `${project.slug}/${name}:v${version.version}`, modelVersionId: version.id, projectSlug: project.slug, created: version.createdAt };
  }
  return null;
}
