// Dashboard aggregations on generated history, on both databases, checked against a straightforward
// in-memory computation of the same numbers from every stored row.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { orgOverview, projectDashboard, rangeStart, versionRegressions, type TimeRange } from "@/server/dashboards/service";
import { callerFor, createOrgFixture, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { generateDashboardHistory } from "../bench/dashboard-history";

type Case = { id: string; tags?: string[]; clauses?: string[] };

/** Everything about the project loaded row by row, and the dashboard numbers computed from it in plain code. */
async function reference(db: PrismaClient, projectId: string, filters: { range: TimeRange; suiteId?: string; tag?: string }, now: Date) {
  const from = rangeStart(filters.range, now);
  const runs = await db.run.findMany({ where: { projectId }, include: { suiteVersion: true, results: true } });
  const scoring = new Map<string, (typeof runs)[number]>();
  for (const r of runs) {
    if (r.kind !== "EVAL" || r.status !== "SUCCEEDED" || !r.modelVersionId || !r.suiteVersion) continue;
    if (from && r.createdAt < from) continue;
    if (filters.suiteId && r.suiteVersion.suiteId !== filters.suiteId) continue;
    const key = `${r.modelVersionId}/${r.suiteVersion.suiteId}`;
    const best = scoring.get(key);
    const better =
      !best ||
      r.suiteVersion.version > best.suiteVersion!.version ||
      (r.suiteVersion.version === best.suiteVersion!.version && (r.finishedAt?.getTime() ?? 0) > (best.finishedAt?.getTime() ?? 0));
    if (better) scoring.set(key, r);
  }
  const casesOf = (r: (typeof runs)[number]) => new Map((r.suiteVersion!.cases as unknown as Case[]).map((c) => [c.id, c]));
  const scores: Record<string, { graded: number; passed: number; runId: string }> = {};
  const tagRates: Record<string, { cases: number; passed: number }> = {};
  const clauseRates: Record<string, { cases: number; passed: number }> = {};
  for (const [key, r] of scoring) {
    const cases = casesOf(r);
    const results = r.results.filter((res) => !filters.tag || cases.get(res.caseId)?.tags?.includes(filters.tag));
    scores[key] = { graded: results.length, passed: results.filter((x) => x.pass).length, runId: r.id };
    for (const res of results) {
      for (const tag of new Set(cases.get(res.caseId)?.tags ?? [])) {
        if (filters.tag && tag !== filters.tag) continue;
        const t = (tagRates[`${key}/${tag}`] ??= { cases: 0, passed: 0 });
        t.cases++;
        if (res.pass) t.passed++;
      }
      for (const clause of new Set(cases.get(res.caseId)?.clauses ?? [])) {
        const c = (clauseRates[`${key}/${clause}`] ??= { cases: 0, passed: 0 });
        c.cases++;
        if (res.pass) c.passed++;
      }
    }
  }
  const allSuites = await db.evalSuite.findMany({ where: { projectId }, include: { versions: { orderBy: { version: "desc" }, take: 1 } } });
  const tags = [...new Set(allSuites.flatMap((s) => ((s.versions[0]?.cases ?? []) as unknown as Case[]).flatMap((c) => c.tags ?? [])))].sort();
  const suites = allSuites.filter((s) => !filters.suiteId || s.id === filters.suiteId);
  const cited: Record<string, number> = {};
  for (const s of suites) {
    for (const c of (s.versions[0]?.cases ?? []) as unknown as Case[]) {
      if (filters.tag && !c.tags?.includes(filters.tag)) continue;
      for (const clause of new Set(c.clauses ?? [])) cited[clause] = (cited[clause] ?? 0) + 1;
    }
  }
  const inRange = runs.filter((r) => (!from || r.createdAt >= from) && (!filters.suiteId || r.kind !== "EVAL" || r.suiteVersion?.suiteId === filters.suiteId));
  return { scores, tagRates, clauseRates, cited, tags, runCount: inRange.length, tokens: inRange.reduce((n, r) => n + ((r.summary as { tokens?: number } | null)?.tokens ?? 0), 0) };
}

describe.each(TEST_DATABASE_KINDS)("dashboards on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let history: Awaited<ReturnType<typeof generateDashboardHistory>>;
  const now = new Date();

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
    const owner = await db.membership.findUniqueOrThrow({ where: { id: f.memberships.OWNER }, select: { userId: true } });
    history = await generateDashboardHistory(db, { orgId: f.orgId, userId: owner.userId, now, shape: { versions: 12, suites: 2, cases: 40, clauses: 6, seed: 7 } });
  }, 120_000);
  afterAll(async () => close?.());

  const FILTERS: { range: TimeRange; suite?: number; tag?: string }[] = [{ range: "all" }, { range: "30d" }, { range: "all", suite: 1 }, { range: "90d", tag: "privacy" }, { range: "all", suite: 0, tag: "tone" }];
  for (const filter of FILTERS) {
    it(`computes scores, tag rates, clause coverage and compute as the rows say (${JSON.stringify(filter)})`, async () => {
      const filters = { range: filter.range, suiteId: filter.suite === undefined ? undefined : history.suiteIds[filter.suite], tag: filter.tag };
      const [dashboard, expected] = await Promise.all([projectDashboard(db, history.projectId, filters, now), reference(db, history.projectId, filters, now)]);

      const scores = Object.fromEntries(dashboard.scores.map((s) => [`${s.modelVersionId}/${s.suiteId}`, { graded: s.graded, passed: s.passed, runId: s.runId }]));
      expect(scores).toEqual(expected.scores);
      expect(Object.keys(scores).length).toBeGreaterThan(0);
      for (const s of dashboard.scores) expect(s.passRate).toBeCloseTo(s.passed / s.graded, 12);

      // Breakdowns cover the latest evaluated versions and every aliased one.
      const detail = new Set(dashboard.detailVersionIds);
      expect(detail.has(history.productionVersionId) || !dashboard.scores.some((s) => s.modelVersionId === history.productionVersionId)).toBe(true);
      const tagged = new Set(dashboard.tagVersionIds);
      const inSet = <T,>(set: Set<string>, rates: Record<string, T>) => Object.fromEntries(Object.entries(rates).filter(([key]) => set.has(key.split("/")[0])));
      const tagRates = Object.fromEntries(dashboard.tagRates.map((t) => [`${t.modelVersionId}/${t.suiteId}/${t.label}`, { cases: t.cases, passed: t.passed }]));
      expect(tagRates).toEqual(inSet(tagged, expected.tagRates));
      const clauseRates = Object.fromEntries(dashboard.coverage.rates.map((t) => [`${t.modelVersionId}/${t.suiteId}/${t.label}`, { cases: t.cases, passed: t.passed }]));
      expect(clauseRates).toEqual(inSet(detail, expected.clauseRates));

      expect(dashboard.tags).toEqual(expected.tags);
      const cited = Object.fromEntries(dashboard.coverage.clauses.filter((c) => c.cases > 0).map((c) => [c.clauseId, c.cases]));
      expect(cited).toEqual(Object.fromEntries(Object.entries(expected.cited).filter(([id]) => dashboard.coverage.clauses.some((c) => c.clauseId === id))));
      // Only the latest policy version's clauses, and the uncited ones are there with zero cases.
      expect(dashboard.coverage.clauses.map((c) => c.policyVersion)).toEqual(dashboard.coverage.clauses.map(() => 2));
      expect(dashboard.coverage.clauses.filter((c) => c.cases === 0).map((c) => c.clauseId)).toEqual(expect.arrayContaining(["c-uncited01", "c-uncited02"]));

      expect(dashboard.runs.length).toBe(expected.runCount);
      expect(dashboard.compute.reduce((n, c) => n + c.runs, 0)).toBe(expected.runCount);
      expect(dashboard.compute.reduce((n, c) => n + (c.tokens ?? 0), 0)).toBe(expected.tokens);
    });
  }

  it("breaks down by tag and clause the latest evaluated versions, the aliased ones and the ones asked for", async () => {
    const plain = await projectDashboard(db, history.projectId, { range: "all" }, now);
    expect(plain.detailVersionIds).toEqual(expect.arrayContaining([history.productionVersionId, ...history.versionIds.slice(-4)]));
    expect(plain.tagVersionIds).toEqual(expect.arrayContaining([history.productionVersionId, history.versionIds[history.versionIds.length - 1]]));
    expect(plain.detailVersionIds).not.toContain(history.versionIds[0]);
    expect(plain.tagRates.some((t) => t.modelVersionId === history.versionIds[0])).toBe(false);
    const asked = await projectDashboard(db, history.projectId, { range: "all", versionIds: [history.versionIds[0]] }, now);
    expect(asked.detailVersionIds).toContain(history.versionIds[0]);
    expect(asked.tagRates.some((t) => t.modelVersionId === history.versionIds[0])).toBe(true);
  });

  it("summarizes each succeeded eval run from its results (graded, passed, per tag, mean score) and keeps the tokens the runner reported", async () => {
    const runs = await db.run.findMany({ where: { projectId: history.projectId, kind: "EVAL", status: "SUCCEEDED" }, include: { suiteVersion: true, results: true } });
    expect(runs.length).toBeGreaterThan(0);
    for (const run of runs) {
      const cases = new Map((run.suiteVersion!.cases as unknown as Case[]).map((c) => [c.id, c]));
      const byTag: Record<string, { cases: number; passed: number }> = {};
      for (const r of run.results) {
        for (const tag of new Set(cases.get(r.caseId)?.tags ?? [])) {
          const t = (byTag[tag] ??= { cases: 0, passed: 0 });
          t.cases++;
          if (r.pass) t.passed++;
        }
      }
      const summary = run.summary as { graded: number; passed: number; cases: number; meanScore: number; byTag: typeof byTag; tokens?: number };
      const passed = run.results.filter((r) => r.pass).length;
      expect({ graded: summary.graded, passed: summary.passed, cases: summary.cases, byTag: summary.byTag }).toEqual({ graded: run.results.length, passed, cases: run.suiteVersion!.caseCount, byTag });
      expect(summary.meanScore).toBeCloseTo(run.results.reduce((n, r) => n + r.score, 0) / run.results.length, 9);
    }
    expect(runs.some((r) => typeof (r.summary as { tokens?: number }).tokens === "number")).toBe(true);
  });

  it("reports run durations and tokens, and a dash for runs without tokens", async () => {
    const dashboard = await projectDashboard(db, history.projectId, { range: "all" }, now);
    const stored = await db.run.findMany({ where: { projectId: history.projectId }, select: { id: true, startedAt: true, finishedAt: true, summary: true } });
    for (const row of dashboard.runs) {
      const run = stored.find((r) => r.id === row.id)!;
      expect(row.durationMs).toBe(run.finishedAt!.getTime() - run.startedAt!.getTime());
      expect(row.tokens).toBe((run.summary as { tokens?: number } | null)?.tokens ?? null);
    }
  });

  it("lists the biggest regressions between two versions, pass-to-fail first", async () => {
    const [base, candidate] = [history.versionIds[5], history.versionIds[1]];
    const { rows, counts } = await versionRegressions(db, history.projectId, { baseVersionId: base, candidateVersionId: candidate, limit: 500 });
    const expected = await reference(db, history.projectId, { range: "all" }, now);
    let regressed = 0;
    for (const suiteId of history.suiteIds) {
      const baseRun = await db.evalResult.findMany({ where: { runId: expected.scores[`${base}/${suiteId}`].runId } });
      const candRun = await db.evalResult.findMany({ where: { runId: expected.scores[`${candidate}/${suiteId}`].runId } });
      const before = new Map(baseRun.map((r) => [r.caseId, r]));
      regressed += candRun.filter((r) => before.get(r.caseId)?.pass && !r.pass).length;
    }
    expect(counts.regressed).toBe(regressed);
    expect(regressed).toBeGreaterThan(0);
    expect(rows.slice(0, regressed).every((r) => r.basePass && !r.candidatePass)).toBe(true);
    expect(rows.slice(regressed).every((r) => r.candidateScore < r.baseScore)).toBe(true);
    const drops = rows.slice(0, regressed).map((r) => r.baseScore - r.candidateScore);
    expect(drops).toEqual([...drops].sort((a, b) => b - a));
  });

  it("shows each production model with its score and the change since the previous production version", async () => {
    const overview = await orgOverview(db, f.orgId, now);
    const expected = await reference(db, history.projectId, { range: "all" }, now);
    const prod = overview.production.find((p) => p.modelId === history.modelId)!;
    expect(prod.versionId).toBe(history.productionVersionId);
    expect(prod.previousId).toBe(history.previousProductionVersionId);
    for (const s of prod.suites) {
      const cur = expected.scores[`${history.productionVersionId}/${s.suiteId}`];
      const prev = expected.scores[`${history.previousProductionVersionId}/${s.suiteId}`];
      expect(s.passRate).toBeCloseTo(cur.passed / cur.graded, 12);
      expect(s.change).toBeCloseTo(cur.passed / cur.graded - prev.passed / prev.graded, 12);
      expect(s.gateFailing).toBe(cur.passed / cur.graded < 0.6);
    }
    expect(overview.nodes).toEqual({ registered: 0, online: 0 });
    const weekAgo = new Date(now.getTime() - 7 * 86_400_000);
    expect(overview.runsThisWeek).toBe(await db.run.count({ where: { project: { orgId: f.orgId }, createdAt: { gte: weekAgo } } }));
  });

  it("lets a VIEWER read both dashboards and never shows another organization's data", async () => {
    const viewer = callerFor(db, f.users.VIEWER);
    const dashboard = await viewer.dashboard.project({ projectId: history.projectId });
    expect(dashboard.scores.length).toBeGreaterThan(0);
    const other = await createOrgFixture(db);
    const otherOverview = await callerFor(db, other.users.VIEWER).dashboard.org({ orgId: other.orgId });
    expect(otherOverview.production.some((p) => p.modelId === history.modelId)).toBe(false);
    expect(otherOverview.projects.some((p) => p.id === history.projectId)).toBe(false);
    await expect(callerFor(db, other.users.VIEWER).dashboard.project({ projectId: history.projectId })).rejects.toThrow(/not found/i);
    // A version id from another organization gives no rows, not its results.
    const foreign = await viewer.dashboard.regressions({ projectId: history.projectId, baseVersionId: other.modelVersionId, candidateVersionId: history.versionIds[1] });
    expect(foreign.rows).toEqual([]);
  });
});
