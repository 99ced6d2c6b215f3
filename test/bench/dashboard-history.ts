// Generated eval history for dashboard tests and the dashboard benchmark: a project with model
// versions, suites (two versions each), a policy with clauses, eval runs (including failed and
// superseded ones that must not count), results, training runs with tokens and a production alias.
// Eval runs end through the service's own transition (transitionRun), which computes the summary and
// the per-run stats the dashboards read, exactly as for runs recorded through the API; only their
// timestamps are back-dated afterwards.
import type { PrismaClient } from "@/server/db/generated/client";
import { transitionRun } from "@/server/runs/service";

export interface HistoryShape {
  versions: number;
  suites: number;
  cases: number;
  clauses: number;
  seed: number;
}

const TAGS = ["refunds", "privacy", "tone", "safety", "billing", "legal"];
const DAY = 86_400_000;

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let counter = 0;
const uid = (p: string) => `${p}${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 8)}`;

export async function generateDashboardHistory(db: PrismaClient, opts: { orgId: string; userId: string; now: Date; shape: HistoryShape }) {
  const { shape, now, userId } = opts;
  const random = rng(shape.seed);
  const project = await db.project.create({ data: { orgId: opts.orgId, name: "Dashboards", slug: uid("dash-") }, select: { id: true } });
  const projectId = project.id;
  const clauseIds = Array.from({ length: shape.clauses }, (_, i) => `c-${shape.seed.toString(16)}${i.toString(16).padStart(4, "0")}`);
  const policy = await db.policy.create({ data: { projectId, key: uid("policy"), title: "Customer policy", createdById: userId }, select: { id: true } });
  await db.policyVersion.create({ data: { policyId: policy.id, version: 1, content: "old", clauses: [], sha256: "0".repeat(64), message: "first", authorId: userId } });
  // The last two clauses are cited by no case: the coverage matrix must flag them.
  await db.policyVersion.create({
    data: {
      policyId: policy.id,
      version: 2,
      content: "# Policy",
      clauses: clauseIds.concat(["c-uncited01", "c-uncited02"]).map((id, i) => ({ id, number: `${i + 1}`, title: `Clause ${i + 1}` })),
      sha256: "1".repeat(64),
      message: "second",
      authorId: userId,
    },
  });

  const makeCases = (n: number, variant: number) =>
    Array.from({ length: n }, (_, i) => {
      const tags = [TAGS[(i + variant) % TAGS.length]];
      if (i % 3 === 0) tags.push(TAGS[(i * 7 + 1) % TAGS.length]);
      const clauses = i % 4 === 3 ? [] : [clauseIds[(i + variant) % clauseIds.length], ...(i % 5 === 0 ? [clauseIds[(i * 3) % clauseIds.length]] : [])];
      // Every eleventh case names a tag and a clause twice (the schema allows it): they count once.
      const again = i % 11 === 0 ? 1 : 0;
      return { id: `case-${i}`, input: `Question ${i}`, expected: "ok", graders: [{ type: "contains", values: ["ok"] }], tags: [...new Set(tags), ...tags.slice(0, again)], clauses: [...new Set(clauses), ...clauses.slice(0, again)] };
    });

  const suites: { id: string; versions: { id: string; caseIds: string[] }[] }[] = [];
  for (let s = 0; s < shape.suites; s++) {
    const suite = await db.evalSuite.create({ data: { projectId, name: `suite-${s}`, thresholds: { overall: 0.6 }, createdById: userId }, select: { id: true } });
    const versions = [];
    for (let v = 1; v <= 2; v++) {
      // Version 2 adds cases and moves tags and clauses, so stale versions would give other numbers.
      const cases = makeCases(v === 1 ? Math.round(shape.cases * 0.9) : shape.cases, v - 1);
      const sv = await db.suiteVersion.create({
        data: { suiteId: suite.id, version: v, cases, caseCount: cases.length, sha256: String(v).repeat(64).slice(0, 64), message: `v${v}`, authorId: userId },
        select: { id: true },
      });
      versions.push({ id: sv.id, caseIds: cases.map((c) => c.id) });
    }
    suites.push({ id: suite.id, versions });
  }

  const model = await db.model.create({ data: { projectId, name: uid("model"), createdById: userId }, select: { id: true } });
  const versionIds: string[] = [];
  for (let v = 1; v <= shape.versions; v++) {
    const mv = await db.modelVersion.create({ data: { modelId: model.id, version: v, config: {}, createdById: userId, createdAt: new Date(now.getTime() - (shape.versions - v + 1) * DAY) }, select: { id: true } });
    versionIds.push(mv.id);
  }
  const productionIndex = Math.max(0, Math.floor(shape.versions * 0.7) - 1);
  const previousProductionIndex = Math.max(0, productionIndex - 2);
  await db.modelAlias.create({ data: { modelId: model.id, name: "production", modelVersionId: versionIds[productionIndex], protected: true } });
  await db.modelAlias.create({ data: { modelId: model.id, name: "candidate", modelVersionId: versionIds[versionIds.length - 1] } });
  for (const [index, daysAgo] of [[previousProductionIndex, 20], [productionIndex, 5]] as const) {
    await db.promotionRequest.create({
      data: { modelId: model.id, alias: "production", modelVersionId: versionIds[index], suiteVersionId: suites[0].versions[0].id, gateReport: { pass: true }, status: "APPROVED", requestedById: userId, decidedById: userId, decidedAt: new Date(now.getTime() - daysAgo * DAY) },
    });
  }

  type RunRow = { id: string; projectId: string; kind: "EVAL" | "LORA"; target: "BROWSER" | "NODE"; status: "RUNNING" | "SUCCEEDED"; suiteVersionId: string | null; modelVersionId: string | null; createdAt: Date; startedAt: Date; finishedAt?: Date; summary?: { tokens: number }; createdById: string };
  const runs: RunRow[] = [];
  const endings: { id: string; status: "SUCCEEDED" | "FAILED"; finishedAt: Date; summary: { tokens: number } | undefined }[] = [];
  const results: { runId: string; caseIds: string[]; pass: boolean[]; score: number[] }[] = [];
  const addRun = (v: number, suiteVersion: { id: string; caseIds: string[] }, status: "SUCCEEDED" | "FAILED", ageDays: number) => {
    const createdAt = new Date(now.getTime() - ageDays * DAY);
    const id = uid("run");
    const durationMs = 1000 + Math.floor(random() * 60_000);
    runs.push({ id, projectId, kind: "EVAL", target: v % 3 === 0 ? "NODE" : "BROWSER", status: "RUNNING", suiteVersionId: suiteVersion.id, modelVersionId: versionIds[v], createdAt, startedAt: createdAt, createdById: userId });
    // The runner reports tokens with the final transition; the service keeps them in the summary.
    endings.push({ id, status, finishedAt: new Date(createdAt.getTime() + durationMs), summary: random() < 0.5 ? { tokens: Math.floor(random() * 100_000) } : undefined });
    const quality = 0.3 + (0.6 * v) / shape.versions;
    const score = suiteVersion.caseIds.map(() => Math.round(Math.min(1, Math.max(0, quality + (random() - 0.5) * 0.8)) * 1000) / 1000);
    results.push({ runId: id, caseIds: suiteVersion.caseIds, score, pass: score.map((x) => x >= 0.5) });
  };
  for (let v = 0; v < shape.versions; v++) {
    const age = (shape.versions - v) * (60 / shape.versions);
    for (const suite of suites) {
      addRun(v, suite.versions[0], "SUCCEEDED", age);
      if (v % 2 === 1) {
        addRun(v, suite.versions[1], "SUCCEEDED", age - 0.3);
        // A re-run on the same suite version: the later one is the scoring run.
        if (v % 4 === 1) addRun(v, suite.versions[1], "SUCCEEDED", age - 0.2);
      }
      // A failed run on a newer version never counts.
      if (v % 3 === 2) addRun(v, suite.versions[1], "FAILED", age - 0.1);
    }
  }
  for (let k = 0; k < 3; k++) {
    const createdAt = new Date(now.getTime() - (k * 15 + 1) * DAY);
    runs.push({ id: uid("run"), projectId, kind: "LORA", target: "NODE", status: "SUCCEEDED", suiteVersionId: null, modelVersionId: versionIds[k % versionIds.length], createdAt, startedAt: createdAt, finishedAt: new Date(createdAt.getTime() + 3_600_000), summary: { tokens: 1_000_000 * (k + 1) }, createdById: userId });
  }
  for (let i = 0; i < runs.length; i += 500) await db.run.createMany({ data: runs.slice(i, i + 500) });
  // Results in bulk (recordResults validates and inserts the same rows, a batch at a time).
  for (const r of results) {
    await db.$executeRaw`
      INSERT INTO "EvalResult" (id, "runId", "caseId", output, grades, score, pass)
      SELECT ${r.runId} || '-' || c, ${r.runId}, c, '', '[]'::jsonb, s, p
      FROM unnest(${r.caseIds}::text[], ${r.score}::float8[], ${r.pass}::bool[]) AS x(c, s, p)`;
  }
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true, name: true } });
  const actor = { type: "user" as const, userId, email: user.email, name: user.name ?? "" };
  for (const e of endings) {
    await transitionRun(db, actor, opts.orgId, e.id, e.status, e.status === "FAILED" ? { error: "generated failure" } : { summary: e.summary });
  }
  await db.$executeRaw`
    UPDATE "Run" r SET "finishedAt" = x.f::timestamptz AT TIME ZONE 'UTC'
    FROM unnest(${endings.map((e) => e.id)}::text[], ${endings.map((e) => e.finishedAt.toISOString())}::text[]) AS x(id, f)
    WHERE r.id = x.id`;
  return { projectId, modelId: model.id, versionIds, suiteIds: suites.map((s) => s.id), productionVersionId: versionIds[productionIndex], previousProductionVersionId: versionIds[previousProductionIndex], clauseIds };
}
