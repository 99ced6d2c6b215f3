// Reading the audit log for people: batches a runner writes one after another (a run's metric points,
// its case results) fold into one entry with their count and totals, and every entry carries the page
// of what it changed while that still exists.
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import { GROUPED_AUDIT_ACTIONS, type AuditResourceType } from "@/contracts/audit";

type AuditRow = Prisma.AuditLogGetPayload<object>;

export interface AuditListItem extends AuditRow {
  /** Set when consecutive batches were folded: how many, and when the first was written. */
  group: { count: number; firstAt: Date; received: number; stored: number } | null;
  /** The app path of what the entry changed, or null when it is gone or has no page. */
  href: string | null;
}

const GROUPED = new Set<string>(GROUPED_AUDIT_ACTIONS);
/** Raw rows read per page at most, so a run that wrote a million metric batches still pages quickly. */
const MAX_SCAN = 2_000;

const sameBatchRun = (a: AuditRow, b: AuditRow) => GROUPED.has(a.action) && a.action === b.action && a.resourceId === b.resourceId && a.actorId === b.actorId;
const counts = (after: Prisma.JsonValue) => {
  const o = after && typeof after === "object" && !Array.isArray(after) ? (after as Record<string, unknown>) : {};
  return { received: typeof o.received === "number" ? o.received : 0, stored: typeof o.stored === "number" ? o.stored : 0 };
};

/**
 * One page of entries, newest first. `cursor` is the id of the last raw row the previous page consumed;
 * a folded entry never straddles two pages unless it alone is longer than the scan limit.
 */
export async function listAuditEntries(db: PrismaClient, orgId: string, where: Prisma.AuditLogWhereInput, cursor: string | undefined, limit: number) {
  const items: { row: AuditRow; group: AuditListItem["group"]; lastId: string }[] = [];
  let next = cursor;
  let scanned = 0;
  let exhausted = false;
  while (items.length <= limit && scanned < MAX_SCAN) {
    const take = Math.min(MAX_SCAN - scanned, (limit + 1) * 4);
    const rows = await db.auditLog.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take, ...(next ? { cursor: { id: next }, skip: 1 } : {}) });
    scanned += rows.length;
    for (const row of rows) {
      const last = items[items.length - 1];
      if (last && sameBatchRun(last.row, row)) {
        const c = counts(row.after);
        last.group = { count: (last.group?.count ?? 1) + 1, firstAt: row.createdAt, received: (last.group?.received ?? counts(last.row.after).received) + c.received, stored: (last.group?.stored ?? counts(last.row.after).stored) + c.stored };
        last.lastId = row.id;
      } else {
        if (items.length === limit + 1) break;
        items.push({ row, group: null, lastId: row.id });
      }
    }
    if (rows.length < take) {
      exhausted = true;
      break;
    }
    next = rows[rows.length - 1].id;
  }
  // The (limit + 1)th entry only tells that there is more; the page ends where the limit-th one ended.
  const hasMore = items.length > limit || !exhausted;
  const page = items.slice(0, limit);
  const hrefs = await auditHrefs(db, orgId, page.map((i) => i.row));
  return {
    items: page.map(({ row, group }): AuditListItem => ({ ...row, group, href: hrefs.get(`${row.resourceType}:${row.resourceId}`) ?? null })),
    nextCursor: hasMore && page.length ? page[page.length - 1].lastId : null,
  };
}

/** The page of each entry's resource, looked up per type in one query each, within the organization. */
async function auditHrefs(db: PrismaClient, orgId: string, rows: AuditRow[]): Promise<Map<string, string>> {
  const ids = (type: AuditResourceType) => [...new Set(rows.filter((r) => r.resourceType === type).map((r) => r.resourceId))];
  const inOrg = { project: { orgId } };
  const org = `/orgs/${orgId}`;
  const project = (projectId: string) => `${org}/projects/${projectId}`;
  const out = new Map<string, string>();
  const put = (type: AuditResourceType, id: string, href: string) => out.set(`${type}:${id}`, href);
  const none = Promise.resolve([] as never[]);
  const q = <T>(type: AuditResourceType, find: (ids: string[]) => Promise<T[]>) => (ids(type).length ? find(ids(type)) : (none as Promise<T[]>));
  const [projects, runs, policies, policyVersions, suites, suiteVersions, datasets, datasetVersions, models, modelVersions, aliases, promotions, endpoints, queues, items, labels, schedules] = await Promise.all([
    q("Project", (id) => db.project.findMany({ where: { id: { in: id }, orgId }, select: { id: true } })),
    q("Run", (id) => db.run.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("Policy", (id) => db.policy.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("PolicyVersion", (id) => db.policyVersion.findMany({ where: { id: { in: id }, policy: inOrg }, select: { id: true, policy: { select: { id: true, projectId: true } } } })),
    q("EvalSuite", (id) => db.evalSuite.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("SuiteVersion", (id) => db.suiteVersion.findMany({ where: { id: { in: id }, suite: inOrg }, select: { id: true, suite: { select: { id: true, projectId: true } } } })),
    q("Dataset", (id) => db.dataset.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("DatasetVersion", (id) => db.datasetVersion.findMany({ where: { id: { in: id }, dataset: inOrg }, select: { id: true, dataset: { select: { id: true, projectId: true } } } })),
    q("Model", (id) => db.model.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("ModelVersion", (id) => db.modelVersion.findMany({ where: { id: { in: id }, model: inOrg }, select: { id: true, model: { select: { id: true, projectId: true } } } })),
    q("ModelAlias", (id) => db.modelAlias.findMany({ where: { id: { in: id }, model: inOrg }, select: { id: true, model: { select: { id: true, projectId: true } } } })),
    q("PromotionRequest", (id) => db.promotionRequest.findMany({ where: { id: { in: id }, model: inOrg }, select: { id: true, model: { select: { id: true, projectId: true } } } })),
    q("Endpoint", (id) => db.endpoint.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("ReviewQueue", (id) => db.reviewQueue.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
    q("ReviewItem", (id) => db.reviewItem.findMany({ where: { id: { in: id }, queue: inOrg }, select: { id: true, queue: { select: { id: true, projectId: true } } } })),
    q("ReviewLabel", (id) => db.reviewLabel.findMany({ where: { id: { in: id }, item: { queue: inOrg } }, select: { id: true, item: { select: { queue: { select: { id: true, projectId: true } } } } } })),
    q("EvalSchedule", (id) => db.evalSchedule.findMany({ where: { id: { in: id }, ...inOrg }, select: { id: true, projectId: true } })),
  ]);
  for (const p of projects) put("Project", p.id, project(p.id));
  for (const r of runs) put("Run", r.id, `${project(r.projectId)}/runs/${r.id}`);
  for (const p of policies) {
    put("Policy", p.id, `${project(p.projectId)}/policies/${p.id}`);
    put("policy", p.id, `${project(p.projectId)}/policies/${p.id}`);
  }
  for (const v of policyVersions) put("PolicyVersion", v.id, `${project(v.policy.projectId)}/policies/${v.policy.id}?tab=versions`);
  for (const s of suites) {
    put("EvalSuite", s.id, `${project(s.projectId)}/suites/${s.id}`);
    put("suite", s.id, `${project(s.projectId)}/suites/${s.id}`);
  }
  for (const v of suiteVersions) put("SuiteVersion", v.id, `${project(v.suite.projectId)}/suites/${v.suite.id}?tab=versions`);
  for (const d of datasets) put("Dataset", d.id, `${project(d.projectId)}/datasets#${d.id}`);
  for (const v of datasetVersions) put("DatasetVersion", v.id, `${project(v.dataset.projectId)}/datasets#${v.dataset.id}`);
  for (const m of models) put("Model", m.id, `${project(m.projectId)}/models/${m.id}`);
  for (const [type, list] of [["ModelVersion", modelVersions], ["ModelAlias", aliases], ["PromotionRequest", promotions]] as const) {
    for (const v of list) put(type, v.id, `${project(v.model.projectId)}/models/${v.model.id}`);
  }
  for (const e of endpoints) put("Endpoint", e.id, `${project(e.projectId)}/endpoints`);
  // Review: a queue's agreement page shows its progress, reviewers and disagreements.
  for (const r of queues) put("ReviewQueue", r.id, `${project(r.projectId)}/review/${r.id}/agreement`);
  for (const i of items) put("ReviewItem", i.id, `${project(i.queue.projectId)}/review/${i.queue.id}/agreement`);
  for (const l of labels) put("ReviewLabel", l.id, `${project(l.item.queue.projectId)}/review/${l.item.queue.id}/agreement`);
  for (const s of schedules) put("EvalSchedule", s.id, `${project(s.projectId)}/schedules#${s.id}`);
  // Organization-level pages: the list is the page (entries there are few and named).
  for (const r of rows) {
    if (r.resourceType === "Organization" && r.resourceId === orgId) put("Organization", r.resourceId, org);
    if (r.resourceType === "Membership" || r.resourceType === "Invite") put(r.resourceType, r.resourceId, `${org}/members`);
    if (r.resourceType === "ApiKey") put("ApiKey", r.resourceId, `${org}/keys`);
    if (r.resourceType === "NodeToken") put("NodeToken", r.resourceId, `${org}/nodes`);
  }
  return out;
}
