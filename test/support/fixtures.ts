// Builds an organization with one member of each role, an outsider in another organization,
// and API keys, directly through Prisma, for tests that call the API as each of them.
import { randomBytes } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import type { Context } from "@/server/trpc/context";
import { createApiKey } from "@/server/apikeys/service";
import { createNodeToken } from "@/server/node-registry/tokens";
import { randomToken, sha256Hex } from "@/server/auth/tokens";
import { API_SCOPES, type ApiScope, type RoleName } from "@/contracts/roles";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";

export type ActorName = RoleName | "outsider" | "anonymous" | "keyWithScope" | "keyWithoutScope";
export const ACTOR_NAMES: ActorName[] = ["OWNER", "ADMIN", "EDITOR", "VIEWER", "outsider", "anonymous", "keyWithScope", "keyWithoutScope"];

export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString("hex")}`;
}

async function makeUser(db: PrismaClient, label: string): Promise<Actor & { type: "user" }> {
  const email = `${unique(label.toLowerCase())}@example.test`;
  const user = await db.user.create({ data: { email, name: label }, select: { id: true, email: true, name: true } });
  return { type: "user", userId: user.id, email: user.email, name: user.name };
}

export interface OrgFixture {
  db: PrismaClient;
  orgId: string;
  projectId: string;
  otherOrgId: string;
  users: Record<RoleName | "outsider", Actor & { type: "user" }>;
  memberships: Record<RoleName, string>;
  inviteToken: string;
  inviteId: string;
  apiKeyId: string;
  /** A node token of the organization (unrevoked). */
  nodeTokenId: string;
  policyId: string;
  datasetId: string;
  suiteId: string;
  suiteVersionId: string;
  /** A RUNNING eval run on suite version 1 (case "refund-window"). */
  runId: string;
  /** A finished eval run on the same suite version, to compare against. */
  baseRunId: string;
  modelId: string;
  modelVersionId: string;
  /** A PENDING promotion requested by the EDITOR. */
  promotionId: string;
  /** An external endpoint of the project, on a loopback URL the SSRF guard refuses (no key). */
  endpointId: string;
  /** A pass/fail review queue (anyone may review) holding one item added by hand. */
  reviewQueueId: string;
  reviewItemId: string;
  /** A request served at /v1 from the project's model version, as the served-request log keeps it. */
  servedRequestId: string;
  /** An open "needs review" flag on the suite's case: version 2 of the policy changed the clause it cites. */
  caseReviewFlagId: string;
  /** A daily drift-watch schedule of the suite version against the model's "production" alias (unset), not due before 2999, no webhook. */
  scheduleId: string;
  /** An API key of the organization holding exactly `scopes` (all scopes by default); `agent`: an agent's key. */
  key(scopes?: readonly ApiScope[], options?: { agent?: boolean }): Promise<Actor & { type: "apiKey" }>;
}

export async function createOrgFixture(db: PrismaClient): Promise<OrgFixture> {
  const [owner, admin, editor, viewer, outsider] = await Promise.all(
    ["Owner", "Admin", "Editor", "Viewer", "Outsider"].map((label) => makeUser(db, label)),
  );
  const org = await db.organization.create({ data: { name: "Fixture Org", slug: unique("org") }, select: { id: true } });
  const other = await db.organization.create({ data: { name: "Other Org", slug: unique("other") }, select: { id: true } });
  const roles: [RoleName, Actor & { type: "user" }][] = [["OWNER", owner], ["ADMIN", admin], ["EDITOR", editor], ["VIEWER", viewer]];
  const memberships = {} as Record<RoleName, string>;
  for (const [role, user] of roles) {
    memberships[role] = (await db.membership.create({ data: { orgId: org.id, userId: user.userId, role }, select: { id: true } })).id;
  }
  await db.membership.create({ data: { orgId: other.id, userId: outsider.userId, role: "OWNER" } });
  const project = await db.project.create({ data: { orgId: org.id, name: "Fixture Project", slug: unique("project") }, select: { id: true } });
  const inviteToken = randomToken(32);
  const invite = await db.invite.create({
    data: { orgId: org.id, role: "VIEWER", tokenHash: sha256Hex(inviteToken), expiresAt: new Date(Date.now() + 3_600_000), createdById: owner.userId },
    select: { id: true },
  });
  const existingKey = await createApiKey(db, owner, { orgId: org.id, name: "fixture key", scopes: ["projects:read"] });
  const nodeToken = await createNodeToken(db, owner, org.id, "fixture node");
  const records = await createProjectRecords(db, project.id, owner.userId, editor.userId);

  async function key(scopes: readonly ApiScope[] = API_SCOPES, options: { agent?: boolean } = {}): Promise<Actor & { type: "apiKey" }> {
    const { key: row } = await createApiKey(db, owner, { orgId: org.id, name: unique("key"), scopes: [...scopes], agent: options.agent });
    return { type: "apiKey", keyId: row.id, orgId: org.id, scopes: [...scopes], label: `API key (hth_${row.prefix})`, ...(options.agent ? { agent: true } : {}) };
  }

  return {
    db,
    orgId: org.id,
    projectId: project.id,
    otherOrgId: other.id,
    users: { OWNER: owner, ADMIN: admin, EDITOR: editor, VIEWER: viewer, outsider },
    memberships,
    inviteToken,
    inviteId: invite.id,
    apiKeyId: existingKey.key.id,
    nodeTokenId: nodeToken.token.id,
    ...records,
    key,
  };
}

const createCaller = createCallerFactory(appRouter);

export function callerFor(db: PrismaClient, actor: Actor | null, options: { signal?: AbortSignal; requestId?: string } = {}) {
  const { signal, requestId = unique("req") } = options;
  const ctx: Context = { db, actor, requestId };
  return createCaller(ctx, { signal });
}

export const FIXTURE_CASE = {
  id: "refund-window",
  input: "Can I get a refund after 40 days?",
  expected: "No",
  graders: [{ type: "contains", values: ["no"], mode: "any", caseInsensitive: true }],
  tags: ["refunds"],
  clauses: ["c-refund-window"],
};

/** A policy, a suite with a published version, eval runs, a model version and a pending promotion. */
async function createProjectRecords(db: PrismaClient, projectId: string, ownerId: string, editorId: string) {
  const policy = await db.policy.create({
    data: { projectId, key: unique("refunds"), title: "Refunds", draft: "# Refunds {#c-refunds}\n\n## 4.2 Refund window {#c-refund-window}\nThirty days.", createdById: ownerId },
    select: { id: true, draft: true },
  });
  await db.policyVersion.create({
    data: { policyId: policy.id, version: 1, content: policy.draft, clauses: [], sha256: "0".repeat(64), message: "first", authorId: ownerId },
  });
  const dataset = await db.dataset.create({ data: { projectId, name: unique("pairs"), kind: "PAIRS", createdById: ownerId }, select: { id: true } });
  const suite = await db.evalSuite.create({ data: { projectId, name: unique("suite"), draft: [FIXTURE_CASE], thresholds: { overall: 0.5 }, createdById: ownerId }, select: { id: true } });
  const suiteVersion = await db.suiteVersion.create({
    data: { suiteId: suite.id, version: 1, cases: [FIXTURE_CASE], caseCount: 1, sha256: "1".repeat(64), message: "first", authorId: ownerId },
    select: { id: true },
  });
  const model = await db.model.create({ data: { projectId, name: unique("model"), createdById: ownerId }, select: { id: true } });
  const modelVersion = await db.modelVersion.create({ data: { modelId: model.id, version: 1, config: {}, createdById: ownerId }, select: { id: true } });
  const run = await db.run.create({
    data: { projectId, kind: "EVAL", target: "BROWSER", status: "RUNNING", suiteVersionId: suiteVersion.id, modelVersionId: modelVersion.id, createdById: ownerId },
    select: { id: true },
  });
  const baseRun = await db.run.create({
    data: { projectId, kind: "EVAL", target: "BROWSER", status: "SUCCEEDED", suiteVersionId: suiteVersion.id, createdById: ownerId },
    select: { id: true },
  });
  await db.evalResult.create({ data: { runId: baseRun.id, caseId: FIXTURE_CASE.id, output: "No.", grades: [], score: 1, pass: true } });
  const promotion = await db.promotionRequest.create({
    data: { modelId: model.id, alias: "production", modelVersionId: modelVersion.id, suiteVersionId: suiteVersion.id, gateReport: { pass: true }, requestedById: editorId },
    select: { id: true },
  });
  const endpoint = await db.endpoint.create({
    data: { projectId, name: unique("endpoint"), baseUrl: "http://127.0.0.1:9/v1", model: "fixture-model", createdById: ownerId },
    select: { id: true },
  });
  const reviewQueue = await db.reviewQueue.create({
    data: { projectId, name: unique("queue"), scoreSchema: { pass: true, numeric: null, categories: [], correction: true, comment: true }, createdById: ownerId },
    select: { id: true },
  });
  const reviewItem = await db.reviewItem.create({ data: { queueId: reviewQueue.id, position: 1, source: "MANUAL", input: "Can I get a refund after 40 days?", output: "Yes, any time." }, select: { id: true } });
  const servedRequest = await db.servedRequest.create({
    data: { projectId, modelVersionId: modelVersion.id, model: "fixture/model:v1", kind: "completion", prompt: "Can I get a refund after 40 days?", output: "Yes, any time.", promptTokens: 9, completionTokens: 4 },
    select: { id: true },
  });
  const caseReviewFlag = await db.caseReviewFlag.create({
    data: {
      projectId,
      suiteId: suite.id,
      caseId: FIXTURE_CASE.id,
      policyId: policy.id,
      policyVersionId: "fixture-policy-version-2",
      policyVersion: 2,
      clauseId: "c-refund-window",
      clauseNumber: "4.2",
      clauseTitle: "Refund window",
      change: "CHANGED",
      beforeText: "## 4.2 Refund window\nThirty days.",
      afterText: "## 4.2 Refund window\nForty days.",
    },
    select: { id: true },
  });
  const schedule = await db.evalSchedule.create({
    data: { projectId, name: unique("watch"), suiteVersionIds: [suiteVersion.id], modelId: model.id, alias: "production", interval: "DAILY", nextRunAt: new Date("2999-01-01T00:00:00Z"), createdById: ownerId },
    select: { id: true },
  });
  return {
    caseReviewFlagId: caseReviewFlag.id,
    scheduleId: schedule.id,
    reviewQueueId: reviewQueue.id,
    reviewItemId: reviewItem.id,
    servedRequestId: servedRequest.id,
    policyId: policy.id,
    datasetId: dataset.id,
    suiteId: suite.id,
    suiteVersionId: suiteVersion.id,
    runId: run.id,
    baseRunId: baseRun.id,
    modelId: model.id,
    modelVersionId: modelVersion.id,
    promotionId: promotion.id,
    endpointId: endpoint.id,
  };
}
