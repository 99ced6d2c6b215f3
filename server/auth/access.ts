// Who may do what where: the checks behind every guarded procedure and every plain route (uploads,
// downloads). Refusals are AccessDenied, a DomainError; the tRPC edge and the route responder
// translate it. Unknown ids and other organizations' ids get the same "not found", so an outsider
// learns nothing about what exists.
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { DomainError } from "@/server/errors";
import { roleAtLeast, type ApiScope, type RoleName } from "@/contracts/roles";

type Db = PrismaClient;

/** A refusal by a guard (as opposed to an error from the procedure body). */
export class AccessDenied extends DomainError {
  constructor(code: "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND", message: string) {
    super(code, message);
    this.name = "AccessDenied";
  }
}

export function deny(code: "UNAUTHORIZED" | "FORBIDDEN" | "NOT_FOUND", message: string): never {
  throw new AccessDenied(code, message);
}

export interface Grant {
  role: RoleName | null;
}

/**
 * Checks that the actor may act in `orgId` with at least `role` (people) or with `scope` (API keys).
 * `notFound` is the message for actors outside the organization, identical to a missing id, so
 * an outsider learns nothing about what exists.
 */
export async function authorizeInOrg(
  ctx: { db: Db; actor: Actor | null },
  orgId: string,
  /** The project acted on; null for organization-wide procedures. */
  projectId: string | null,
  role: RoleName,
  scope: ApiScope | null,
  notFound: string,
): Promise<Grant> {
  const actor = ctx.actor;
  if (!actor) deny("UNAUTHORIZED", "Sign in or send an API key to continue.");
  if (actor.type === "apiKey") {
    if (actor.orgId !== orgId) deny("NOT_FOUND", notFound);
    // A project key sees other projects exactly as an outsider does, and nothing organization-wide.
    if (actor.projectId && projectId === null) deny("FORBIDDEN", "This API key is limited to one project; it cannot act on the whole organization.");
    if (actor.projectId && actor.projectId !== projectId) deny("NOT_FOUND", notFound);
    if (!scope) deny("FORBIDDEN", "API keys cannot do this; sign in as a person.");
    if (!actor.scopes.includes(scope)) deny("FORBIDDEN", `This API key lacks the "${scope}" scope.`);
    return { role: null };
  }
  const membership = await ctx.db.membership.findUnique({
    where: { orgId_userId: { orgId, userId: actor.userId } },
    select: { role: true },
  });
  if (!membership) deny("NOT_FOUND", notFound);
  if (!roleAtLeast(membership.role, role)) {
    deny("FORBIDDEN", `This needs the ${role} role or higher; your role is ${membership.role}.`);
  }
  return { role: membership.role };
}

/** Access to a project: its organization decides, as for every resource inside it. */
export async function authorizeProject(ctx: { db: Db; actor: Actor | null }, projectId: string, role: RoleName, scope: ApiScope | null): Promise<{ orgId: string; role: RoleName | null }> {
  const project = await ctx.db.project.findUnique({ where: { id: projectId }, select: { orgId: true } });
  if (!project) deny("NOT_FOUND", "Project not found.");
  const grant = await authorizeInOrg(ctx, project.orgId, projectId, role, scope, "Project not found.");
  return { orgId: project.orgId, role: grant.role };
}

/** Resources that live in a project, and how to find the project of one from its id. */
const RESOURCE_PROJECT = {
  policy: (db: Db, id: string) => db.policy.findUnique({ where: { id }, select: { projectId: true } }),
  suite: (db: Db, id: string) => db.evalSuite.findUnique({ where: { id }, select: { projectId: true } }),
  suiteVersion: (db: Db, id: string) =>
    db.suiteVersion.findUnique({ where: { id }, select: { suite: { select: { projectId: true } } } }).then((v) => v && { projectId: v.suite.projectId }),
  dataset: (db: Db, id: string) => db.dataset.findUnique({ where: { id }, select: { projectId: true } }),
  datasetVersion: (db: Db, id: string) =>
    db.datasetVersion.findUnique({ where: { id }, select: { dataset: { select: { projectId: true } } } }).then((v) => v && { projectId: v.dataset.projectId }),
  model: (db: Db, id: string) => db.model.findUnique({ where: { id }, select: { projectId: true } }),
  modelVersion: (db: Db, id: string) =>
    db.modelVersion.findUnique({ where: { id }, select: { model: { select: { projectId: true } } } }).then((v) => v && { projectId: v.model.projectId }),
  run: (db: Db, id: string) => db.run.findUnique({ where: { id }, select: { projectId: true } }),
  promotion: (db: Db, id: string) =>
    db.promotionRequest.findUnique({ where: { id }, select: { model: { select: { projectId: true } } } }).then((v) => v && { projectId: v.model.projectId }),
  endpoint: (db: Db, id: string) => db.endpoint.findUnique({ where: { id }, select: { projectId: true } }),
  reviewQueue: (db: Db, id: string) => db.reviewQueue.findUnique({ where: { id }, select: { projectId: true } }),
  reviewItem: (db: Db, id: string) =>
    db.reviewItem.findUnique({ where: { id }, select: { queue: { select: { projectId: true } } } }).then((v) => v && { projectId: v.queue.projectId }),
  servedRequest: (db: Db, id: string) => db.servedRequest.findUnique({ where: { id }, select: { projectId: true } }),
  caseReviewFlag: (db: Db, id: string) => db.caseReviewFlag.findUnique({ where: { id }, select: { projectId: true } }),
  schedule: (db: Db, id: string) => db.evalSchedule.findUnique({ where: { id }, select: { projectId: true } }),
} as const;
export type ResourceKind = keyof typeof RESOURCE_PROJECT;

const RESOURCE_LABEL: Record<ResourceKind, string> = {
  policy: "Policy",
  suite: "Eval suite",
  suiteVersion: "Suite version",
  dataset: "Dataset",
  datasetVersion: "Dataset version",
  model: "Model",
  modelVersion: "Model version",
  run: "Run",
  promotion: "Promotion request",
  endpoint: "Endpoint",
  reviewQueue: "Review queue",
  reviewItem: "Review item",
  servedRequest: "Served request",
  caseReviewFlag: "Case review flag",
  schedule: "Schedule",
};

/**
 * Checks access to one resource inside a project exactly as projectProcedure does; unknown ids and
 * other organizations' ids get the same "not found". Also used by non-tRPC routes (uploads, downloads).
 */
export async function authorizeResource(
  ctx: { db: Db; actor: Actor | null },
  kind: ResourceKind,
  id: string,
  role: RoleName,
  scope: ApiScope | null,
): Promise<{ orgId: string; projectId: string; role: RoleName | null }> {
  const notFound = `${RESOURCE_LABEL[kind]} not found.`;
  const owner = await RESOURCE_PROJECT[kind](ctx.db, id);
  if (!owner) deny("NOT_FOUND", notFound);
  const project = await ctx.db.project.findUnique({ where: { id: owner.projectId }, select: { orgId: true } });
  if (!project) deny("NOT_FOUND", notFound);
  const grant = await authorizeInOrg(ctx, project.orgId, owner.projectId, role, scope, notFound);
  return { orgId: project.orgId, projectId: owner.projectId, role: grant.role };
}

