// Every tRPC procedure x every role, an outsider, an anonymous caller, and API keys with and without the
// procedure's scope. The table states each expectation by hand; a procedure missing from it fails the suite.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRPCError } from "@trpc/server";
import type { PrismaClient } from "@/server/db/generated/client";
import { appRouter } from "@/server/trpc/root";
import { AccessDenied } from "@/server/auth/access";
import type { Access } from "@/server/trpc/init";
import { API_SCOPES, type ApiScope } from "@/contracts/roles";
import { ACTOR_NAMES, callerFor, createOrgFixture, FIXTURE_CASE, unique, type ActorName, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";

type Input = (f: OrgFixture) => Record<string, unknown>;
interface Row {
  input: Input;
  /** Who gets past the guard; everyone else must be refused by it. */
  allow: ActorName[];
  /** The scope an API key needs ("keyWithScope" holds only this one; "keyWithoutScope" holds all others). */
  scope?: ApiScope;
}

const EVERYONE: ActorName[] = [...ACTOR_NAMES];
const PEOPLE: ActorName[] = ["OWNER", "ADMIN", "EDITOR", "VIEWER", "outsider"];
const READERS: ActorName[] = ["OWNER", "ADMIN", "EDITOR", "VIEWER", "keyWithScope"];
const WRITERS: ActorName[] = ["OWNER", "ADMIN", "EDITOR", "keyWithScope"];
/** Every member, no API key: reviewing is people's work. */
const MEMBERS: ActorName[] = ["OWNER", "ADMIN", "EDITOR", "VIEWER"];
const REVIEWERS: ActorName[] = ["OWNER", "ADMIN", "EDITOR"];
const org = (f: OrgFixture) => ({ orgId: f.orgId });
const project = (f: OrgFixture) => ({ projectId: f.projectId });

const MATRIX: Record<string, Row> = {
  "user.signUp": { input: () => ({ email: `${unique("new")}@example.test`, name: "New", password: "correct horse battery" }), allow: EVERYONE },
  "user.me": { input: () => ({}), allow: [...PEOPLE, "keyWithScope", "keyWithoutScope"] },
  "user.sessions": { input: () => ({}), allow: PEOPLE },
  "user.endSessions": { input: () => ({}), allow: PEOPLE },
  "user.changePassword": { input: () => ({ currentPassword: "not the password", newPassword: "a new password 123" }), allow: PEOPLE },
  "org.list": { input: () => ({}), allow: [...PEOPLE, "keyWithScope", "keyWithoutScope"] },
  "org.create": { input: () => ({ name: "Created Org" }), allow: PEOPLE },
  "org.get": { input: org, allow: ["OWNER", "ADMIN", "EDITOR", "VIEWER", "keyWithScope"], scope: "projects:read" },
  "org.rename": { input: (f) => ({ ...org(f), name: "Renamed" }), allow: ["OWNER", "ADMIN"] },
  "project.list": { input: org, allow: ["OWNER", "ADMIN", "EDITOR", "VIEWER", "keyWithScope"], scope: "projects:read" },
  "project.get": { input: project, allow: ["OWNER", "ADMIN", "EDITOR", "VIEWER", "keyWithScope"], scope: "projects:read" },
  "project.create": { input: (f) => ({ ...org(f), name: "New project" }), allow: ["OWNER", "ADMIN", "keyWithScope"], scope: "projects:write" },
  "project.update": { input: (f) => ({ ...project(f), description: "changed" }), allow: ["OWNER", "ADMIN", "EDITOR", "keyWithScope"], scope: "projects:write" },
  "project.delete": { input: project, allow: ["OWNER"] },
  "member.list": { input: org, allow: ["OWNER", "ADMIN", "EDITOR", "VIEWER", "keyWithScope"], scope: "members:read" },
  "member.updateRole": { input: (f) => ({ ...org(f), membershipId: f.memberships.EDITOR, role: "VIEWER" }), allow: ["OWNER", "ADMIN"] },
  "member.endSessions": { input: (f) => ({ ...org(f), membershipId: f.memberships.EDITOR }), allow: ["OWNER", "ADMIN"] },
  "member.remove": { input: (f) => ({ ...org(f), membershipId: f.memberships.EDITOR }), allow: ["OWNER", "ADMIN"] },
  "invite.list": { input: org, allow: ["OWNER", "ADMIN"] },
  "invite.create": { input: (f) => ({ ...org(f), role: "EDITOR" }), allow: ["OWNER", "ADMIN"] },
  "invite.revoke": { input: (f) => ({ ...org(f), inviteId: f.inviteId }), allow: ["OWNER", "ADMIN"] },
  "invite.preview": { input: (f) => ({ token: f.inviteToken }), allow: EVERYONE },
  "invite.accept": { input: (f) => ({ token: f.inviteToken }), allow: PEOPLE },
  "apiKey.list": { input: org, allow: ["OWNER", "ADMIN"] },
  "apiKey.create": { input: (f) => ({ ...org(f), name: "k", scopes: ["projects:read"] }), allow: ["OWNER", "ADMIN"] },
  "apiKey.revoke": { input: (f) => ({ ...org(f), keyId: f.apiKeyId }), allow: ["OWNER", "ADMIN"] },
  "audit.list": { input: org, allow: ["OWNER", "ADMIN", "keyWithScope"], scope: "audit:read" },
  "audit.live": { input: org, allow: ["OWNER", "ADMIN", "keyWithScope"], scope: "audit:read" },

  "policy.list": { input: project, allow: READERS, scope: "policies:read" },
  "policy.get": { input: (f) => ({ policyId: f.policyId }), allow: READERS, scope: "policies:read" },
  "policy.clauses": { input: project, allow: READERS, scope: "policies:read" },
  "policy.create": { input: (f) => ({ ...project(f), key: unique("p"), title: "Privacy" }), allow: WRITERS, scope: "policies:write" },
  "policy.update": { input: (f) => ({ policyId: f.policyId, draft: "# Changed {#c-x}" }), allow: WRITERS, scope: "policies:write" },
  "policy.publish": { input: (f) => ({ policyId: f.policyId, message: "v2" }), allow: WRITERS, scope: "policies:write" },
  "policy.version": { input: (f) => ({ policyId: f.policyId, version: 1 }), allow: READERS, scope: "policies:read" },
  "policy.diff": { input: (f) => ({ policyId: f.policyId, from: 1, to: "draft" }), allow: READERS, scope: "policies:read" },

  "suite.list": { input: project, allow: READERS, scope: "suites:read" },
  "suite.get": { input: (f) => ({ suiteId: f.suiteId }), allow: READERS, scope: "suites:read" },
  "suite.create": { input: (f) => ({ ...project(f), name: unique("suite") }), allow: WRITERS, scope: "suites:write" },
  "suite.update": { input: (f) => ({ suiteId: f.suiteId, description: "changed" }), allow: WRITERS, scope: "suites:write" },
  "suite.setCases": { input: (f) => ({ suiteId: f.suiteId, cases: [{ ...FIXTURE_CASE, id: "other" }] }), allow: WRITERS, scope: "suites:write" },
  "suite.importCases": { input: (f) => ({ suiteId: f.suiteId, format: "hearth-jsonl", content: JSON.stringify({ ...FIXTURE_CASE, id: unique("imported") }) }), allow: WRITERS, scope: "suites:write" },
  "suite.publish": { input: (f) => ({ suiteId: f.suiteId, message: "v2" }), allow: WRITERS, scope: "suites:write" },
  "suite.version": { input: (f) => ({ suiteId: f.suiteId, version: 1 }), allow: READERS, scope: "suites:read" },
  "suite.diff": { input: (f) => ({ suiteId: f.suiteId, from: 1, to: "draft" }), allow: READERS, scope: "suites:read" },
  "suite.previewImport": { input: (f) => ({ suiteId: f.suiteId, format: "hearth-jsonl", content: JSON.stringify({ ...FIXTURE_CASE, id: unique("previewed") }) }), allow: WRITERS, scope: "suites:write" },
  "suite.exportVersion": { input: (f) => ({ suiteVersionId: f.suiteVersionId }), allow: READERS, scope: "suites:read" },

  "collab.history": { input: (f) => ({ policyId: f.policyId }), allow: READERS, scope: "policies:read" },
  "collab.suiteHistory": { input: (f) => ({ suiteId: f.suiteId }), allow: READERS, scope: "suites:read" },

  "run.list": { input: project, allow: READERS, scope: "runs:read" },
  "run.get": { input: (f) => ({ runId: f.runId }), allow: READERS, scope: "runs:read" },
  "run.create": { input: (f) => ({ ...project(f), kind: "EVAL", target: "BROWSER", suiteVersionId: f.suiteVersionId }), allow: WRITERS, scope: "runs:write" },
  "run.transition": { input: (f) => ({ runId: f.runId, status: "CANCELLED" }), allow: WRITERS, scope: "runs:write" },
  "run.retry": { input: (f) => ({ runId: f.runId }), allow: WRITERS, scope: "runs:write" },
  "run.logMetrics": { input: (f) => ({ runId: f.runId, points: [{ name: "loss", step: 1, value: 2.5 }] }), allow: WRITERS, scope: "runs:write" },
  "run.metrics": { input: (f) => ({ runId: f.runId }), allow: READERS, scope: "runs:read" },
  "run.liveMetrics": { input: (f) => ({ runId: f.runId }), allow: READERS, scope: "runs:read" },
  "run.liveStatus": { input: project, allow: READERS, scope: "runs:read" },
  "run.recordResults": {
    input: (f) => ({ runId: f.runId, results: [{ caseId: FIXTURE_CASE.id, output: "No", grades: [{ grader: "contains", score: 1, pass: true, reason: "ok" }], score: 1, pass: true }] }),
    allow: WRITERS,
    scope: "runs:write",
  },
  "run.results": { input: (f) => ({ runId: f.baseRunId }), allow: READERS, scope: "runs:read" },
  "run.compare": { input: (f) => ({ runId: f.runId, baseRunId: f.baseRunId }), allow: READERS, scope: "runs:read" },

  "dataset.list": { input: project, allow: READERS, scope: "datasets:read" },
  "dataset.get": { input: (f) => ({ datasetId: f.datasetId }), allow: READERS, scope: "datasets:read" },
  "dataset.create": { input: (f) => ({ ...project(f), name: unique("corpus"), kind: "CORPUS" }), allow: WRITERS, scope: "datasets:write" },

  "model.list": { input: project, allow: READERS, scope: "models:read" },
  "model.get": { input: (f) => ({ modelId: f.modelId }), allow: READERS, scope: "models:read" },
  "model.create": { input: (f) => ({ ...project(f), name: unique("model") }), allow: WRITERS, scope: "models:write" },
  "model.createVersion": { input: (f) => ({ modelId: f.modelId, config: { preset: "tiny" }, parentVersionId: f.modelVersionId }), allow: WRITERS, scope: "models:write" },
  "model.setAlias": { input: (f) => ({ modelId: f.modelId, alias: "candidate", modelVersionId: f.modelVersionId }), allow: WRITERS, scope: "models:write" },
  "model.gate": { input: (f) => ({ modelId: f.modelId, candidateVersionId: f.modelVersionId, suiteVersionId: f.suiteVersionId }), allow: READERS, scope: "runs:read" },
  "model.promotions": { input: (f) => ({ modelId: f.modelId }), allow: READERS, scope: "models:read" },
  "model.requestPromotion": { input: (f) => ({ modelId: f.modelId, alias: "staging", modelVersionId: f.modelVersionId, suiteVersionId: f.suiteVersionId }), allow: WRITERS, scope: "models:write" },
  "model.approvePromotion": { input: (f) => ({ promotionId: f.promotionId }), allow: ["OWNER", "ADMIN"] },
  "model.rejectPromotion": { input: (f) => ({ promotionId: f.promotionId }), allow: ["OWNER", "ADMIN"] },
  "model.chat": { input: (f) => ({ modelVersionId: f.modelVersionId, messages: [{ role: "user", content: "Hi" }], maxTokens: 8, temperature: 0 }), allow: WRITERS, scope: "models:invoke" },

  "endpoint.list": { input: project, allow: READERS, scope: "models:read" },
  "endpoint.servedModels": { input: project, allow: READERS, scope: "models:read" },
  "endpoint.get": { input: (f) => ({ endpointId: f.endpointId }), allow: READERS, scope: "models:read" },
  "endpoint.create": { input: (f) => ({ ...project(f), name: unique("endpoint"), baseUrl: "https://93.184.216.34/v1", model: "gpt-test", apiKey: "sk-matrix" }), allow: ["OWNER", "ADMIN"] },
  "endpoint.update": { input: (f) => ({ endpointId: f.endpointId, model: "other-model" }), allow: ["OWNER", "ADMIN"] },
  "endpoint.delete": { input: (f) => ({ endpointId: f.endpointId }), allow: ["OWNER", "ADMIN"] },
  "endpoint.check": { input: (f) => ({ endpointId: f.endpointId }), allow: ["OWNER", "ADMIN"] },
  "endpoint.chat": { input: (f) => ({ endpointId: f.endpointId, messages: [{ role: "user", content: "Hi" }], maxTokens: 8, temperature: 0 }), allow: WRITERS, scope: "models:invoke" },
  "node.list": { input: org, allow: READERS, scope: "runs:read" },
  "node.jobs": { input: org, allow: READERS, scope: "runs:read" },
  "node.tokens": { input: org, allow: ["OWNER", "ADMIN"] },
  "node.createToken": { input: (f) => ({ ...org(f), name: "gpu-01" }), allow: ["OWNER", "ADMIN"] },
  "node.revokeToken": { input: (f) => ({ ...org(f), tokenId: f.nodeTokenId }), allow: ["OWNER", "ADMIN"] },

  "suite.caseSource": { input: (f) => ({ suiteId: f.suiteId, source: { kind: "served", servedRequestId: f.servedRequestId } }), allow: WRITERS, scope: "suites:write" },
  "suite.makeCase": {
    input: (f) => ({ suiteId: f.suiteId, source: { kind: "served", servedRequestId: f.servedRequestId }, case: { id: unique("incident"), input: "Refund after 40 days?", expected: "No", graders: [{ type: "contains", values: ["no"] }] } }),
    allow: WRITERS,
    scope: "suites:write",
  },

  "review.list": { input: project, allow: MEMBERS },
  "review.get": { input: (f) => ({ reviewQueueId: f.reviewQueueId }), allow: MEMBERS },
  "review.agreement": { input: (f) => ({ reviewQueueId: f.reviewQueueId }), allow: MEMBERS },
  "review.create": { input: (f) => ({ ...project(f), name: unique("queue"), scoreSchema: { pass: true } }), allow: ["OWNER", "ADMIN"] },
  "review.update": { input: (f) => ({ reviewQueueId: f.reviewQueueId, description: "changed" }), allow: ["OWNER", "ADMIN"] },
  "review.delete": { input: (f) => ({ reviewQueueId: f.reviewQueueId }), allow: ["OWNER", "ADMIN"] },
  "review.addItems": { input: (f) => ({ reviewQueueId: f.reviewQueueId, items: [{ input: "q", output: "a" }] }), allow: ["OWNER", "ADMIN"] },
  "review.addResults": { input: (f) => ({ reviewQueueId: f.reviewQueueId, runId: f.baseRunId }), allow: ["OWNER", "ADMIN"] },
  "review.next": { input: (f) => ({ reviewQueueId: f.reviewQueueId }), allow: REVIEWERS },
  "review.mine": { input: (f) => ({ reviewQueueId: f.reviewQueueId }), allow: REVIEWERS },
  "review.item": { input: (f) => ({ reviewItemId: f.reviewItemId }), allow: REVIEWERS },
  "review.release": { input: (f) => ({ reviewItemId: f.reviewItemId }), allow: REVIEWERS },
  "review.label": { input: (f) => ({ reviewItemId: f.reviewItemId, label: { pass: true } }), allow: REVIEWERS },
  "review.judges": { input: project, allow: MEMBERS },
  "review.setJudgeBar": { input: (f) => ({ ...project(f), minLabels: 20 }), allow: ["OWNER", "ADMIN"] },
  "review.exportDataset": { input: (f) => ({ reviewQueueId: f.reviewQueueId, format: "sft", datasetName: unique("labels") }), allow: REVIEWERS },

  "caseReview.suite": { input: (f) => ({ suiteId: f.suiteId }), allow: READERS, scope: "suites:read" },
  "caseReview.project": { input: project, allow: READERS, scope: "suites:read" },
  "caseReview.resolve": { input: (f) => ({ caseReviewFlagId: f.caseReviewFlagId }), allow: REVIEWERS },

  "servedLog.settings": { input: project, allow: READERS, scope: "models:read" },
  "servedLog.list": { input: project, allow: READERS, scope: "models:read" },
  "servedLog.get": { input: (f) => ({ servedRequestId: f.servedRequestId }), allow: READERS, scope: "models:read" },
  "servedLog.configure": { input: (f) => ({ ...project(f), enabled: true, retentionDays: 7 }), allow: ["OWNER", "ADMIN"] },

  "schedule.list": { input: project, allow: READERS, scope: "runs:read" },
  "schedule.get": { input: (f) => ({ scheduleId: f.scheduleId }), allow: READERS, scope: "runs:read" },
  "schedule.create": {
    input: (f) => ({ ...project(f), name: unique("watch"), suiteVersionIds: [f.suiteVersionId], target: { kind: "alias", modelId: f.modelId, alias: "production" }, interval: "HOURLY", webhookUrl: "https://93.184.216.34/hook" }),
    allow: ["OWNER", "ADMIN"],
  },
  "schedule.update": { input: (f) => ({ scheduleId: f.scheduleId, marginPoints: 2 }), allow: ["OWNER", "ADMIN"] },
  "schedule.setEnabled": { input: (f) => ({ scheduleId: f.scheduleId, enabled: false }), allow: ["OWNER", "ADMIN"] },
  "schedule.delete": { input: (f) => ({ scheduleId: f.scheduleId }), allow: ["OWNER", "ADMIN"] },
  "schedule.runNow": { input: (f) => ({ scheduleId: f.scheduleId }), allow: WRITERS, scope: "runs:write" },
  "notification.list": { input: () => ({}), allow: PEOPLE },
  "notification.markRead": { input: () => ({ all: true }), allow: PEOPLE },
  "live.watch": { input: () => ({}), allow: PEOPLE },

  "dashboard.org": { input: org, allow: READERS, scope: "runs:read" },
  "dashboard.project": { input: project, allow: READERS, scope: "runs:read" },
  "dashboard.regressions": { input: (f) => ({ ...project(f), baseVersionId: f.modelVersionId, candidateVersionId: f.modelVersionId }), allow: READERS, scope: "runs:read" },
};

type ProcedureDef = { _def: { type: "query" | "mutation" | "subscription"; meta?: { access: Access } } };
const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureDef>;

async function actorFor(f: OrgFixture, name: ActorName, scope: ApiScope | undefined) {
  switch (name) {
    case "anonymous":
      return null;
    case "keyWithScope":
      return f.key(scope ? [scope] : API_SCOPES);
    case "keyWithoutScope":
      return f.key(scope ? API_SCOPES.filter((s) => s !== scope) : []);
    default:
      return f.users[name];
  }
}

/** Calls the procedure; "denied" only when a guard refused (not when the body raised a domain error). */
async function attempt(db: PrismaClient, f: OrgFixture, path: string, actor: Awaited<ReturnType<typeof actorFor>>) {
  const controller = new AbortController();
  const requestId = unique("req");
  const caller = callerFor(db, actor, { signal: controller.signal, requestId }) as unknown as Record<string, Record<string, (input: unknown) => Promise<unknown>>>;
  const [namespace, name] = path.split(".");
  try {
    const result = await caller[namespace][name](MATRIX[path].input(f));
    if (procedures[path]._def.type === "subscription") controller.abort();
    return { outcome: "allowed" as const, result, error: undefined as unknown, requestId };
  } catch (error) {
    if (error instanceof TRPCError && error.cause instanceof AccessDenied) {
      return { outcome: "denied" as const, code: error.code, message: error.message };
    }
    return { outcome: "allowed" as const, error, requestId };
  }
}

describe("authorization matrix", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase("postgres"));
  });
  afterAll(async () => close?.());

  it("has an entry for every procedure, and every entry names a real procedure", () => {
    expect(Object.keys(MATRIX).sort()).toEqual(Object.keys(procedures).sort());
  });

  it("declares its access on every procedure", () => {
    for (const [path, procedure] of Object.entries(procedures)) {
      expect(procedure._def.meta?.access, `${path} has no access metadata`).toBeDefined();
    }
  });

  for (const path of Object.keys(MATRIX)) {
    it(`${path}: allows exactly ${MATRIX[path].allow.join(", ")}`, async () => {
      const row = MATRIX[path];
      const isQuery = procedures[path]._def.type !== "mutation";
      let shared: OrgFixture | undefined;
      for (const name of ACTOR_NAMES) {
        // Mutations change state, so each caller gets a fresh organization.
        const f = isQuery ? (shared ??= await createOrgFixture(db)) : await createOrgFixture(db);
        const actor = await actorFor(f, name, row.scope);
        const outcome = await attempt(db, f, path, actor);
        const expected = row.allow.includes(name) ? "allowed" : "denied";
        expect(outcome.outcome, `${path} as ${name}: ${JSON.stringify(outcome)}`).toBe(expected);
        if (outcome.outcome === "denied" && name === "outsider") {
          // An outsider cannot tell a real id from a made-up one.
          expect(outcome.code).toBe("NOT_FOUND");
        }
        if (procedures[path]._def.type === "mutation" && outcome.outcome === "allowed" && !outcome.error) {
          // Every mutation that succeeds leaves an audit entry tagged with its request.
          const entries = await db.auditLog.count({ where: { requestId: outcome.requestId } });
          expect(entries, `${path} as ${name} wrote no audit entry`).toBeGreaterThan(0);
        }
      }
    });
  }

  // Agents' keys: allowed exactly what a key with the scope is, except requesting promotions and
  // publishing; with every scope, still nothing a key without scopes could not do.
  const AGENTS_REFUSED = ["model.requestPromotion", "suite.publish", "policy.publish"];
  it("allows an agent's key what a key with the scope may do, except promotion requests and publishing", async () => {
    let shared: OrgFixture | undefined;
    for (const path of Object.keys(MATRIX)) {
      const row = MATRIX[path];
      const isQuery = procedures[path]._def.type !== "mutation";
      const f = isQuery ? (shared ??= await createOrgFixture(db)) : await createOrgFixture(db);
      const forKeys = row.allow.includes("keyWithScope");
      const agent = await f.key(forKeys && row.scope ? [row.scope] : API_SCOPES, { agent: true });
      const outcome = await attempt(db, f, path, agent);
      const expected = forKeys && !AGENTS_REFUSED.includes(path) ? "allowed" : "denied";
      expect(outcome.outcome, `${path} as an agent key: ${JSON.stringify(outcome)}`).toBe(expected);
    }
  });

  it("tells an outsider the same thing for a project that exists and one that does not", async () => {
    const f = await createOrgFixture(db);
    const outsider = callerFor(db, f.users.outsider);
    const real = await outsider.project.get({ projectId: f.projectId }).catch((e: TRPCError) => e);
    const fake = await outsider.project.get({ projectId: "c0000000000000000000000000" }).catch((e: TRPCError) => e);
    expect(real).toBeInstanceOf(TRPCError);
    expect(fake).toBeInstanceOf(TRPCError);
    expect([(real as TRPCError).code, (real as TRPCError).message]).toEqual([(fake as TRPCError).code, (fake as TRPCError).message]);
  });
});
