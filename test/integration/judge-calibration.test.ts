// Judges calibrated against people (issue #21 item 1). A model version is evaluated by the server's own
// worker (target SERVER: the demo's smallest real llama folder, on the CPU engine) on a suite whose
// only grader is a rubric, graded by a judge endpoint: a real HTTP server on loopback standing in for
// the judge model (it scores 1 when the judged output states the 30-day window). The release gate
// refuses to count that judge's verdicts ("not evaluable") until people have labelled enough of them in
// a review queue and its kappa with them reaches the bar an ADMIN set; then it counts them.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { startEndpointRunWorker, type EndpointRunWorker } from "@/server/runs/eval-runner";
import { parseAllowlist } from "@/server/endpoints/ssrf";
import { uploadFolderFromDisk } from "@/server/models/folders";
import { DEMO_CASES, DEMO_MODEL_DIR } from "@/server/demo/content";
import { getArtifactStore } from "@/server/storage";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { trpcRefusal } from "../support/refusal";
import { startUpstream, UPSTREAM_KEY } from "../support/openai-upstream";
import { until } from "../support/serving";

const RUBRIC = "The answer states the return window of 30 days.";

describe.each(TEST_DATABASE_KINDS)("judge calibration on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let worker: EndpointRunWorker;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-judges-"));
  let modelId: string;
  let versionId: string;
  let suiteId: string;
  let suiteVersionId: string;
  let judgeId: string;
  let runId: string;

  const as = (role: "OWNER" | "ADMIN" | "EDITOR" | "VIEWER") => callerFor(db, f.users[role]);
  const gate = () => as("VIEWER").model.gate({ modelId, candidateVersionId: versionId, suiteVersionId });

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind, { own: true }));
    process.env.HEARTH_DATA_DIR = dataDir;
    delete process.env.HEARTH_SECRET_KEY;
    upstream = await startUpstream();
    process.env.HEARTH_ENDPOINT_ALLOWLIST = `127.0.0.1:${upstream.port}`;
    f = await createOrgFixture(db);
    const store = getArtifactStore();
    worker = startEndpointRunWorker({ db, pollMs: 200, leaseMs: 5_000, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 40 }, guard: { allowlist: parseAllowlist(`127.0.0.1:${upstream.port}`) }, store });

    // A real model: the demo's support-v3 llama folder, uploaded as a person uploads one.
    const owner = f.users.OWNER;
    modelId = (await as("EDITOR").model.create({ projectId: f.projectId, name: unique("judged") })).id;
    versionId = (await uploadFolderFromDisk(db, owner, f.orgId, modelId, path.join(DEMO_MODEL_DIR, "support-v3"), {}, store)).id;

    // Eight support questions, graded only by the rubric; the gate needs half of them to pass.
    const cases = [...DEMO_CASES.slice(0, 7), DEMO_CASES.find((c) => c.id === "refund-late")!].map((c) => ({ ...c, graders: [{ type: "rubric", rubric: RUBRIC }] }));
    const suite = await db.evalSuite.create({ data: { projectId: f.projectId, name: unique("judged-suite"), draft: cases as object[], thresholds: { overall: 0.5 }, createdById: owner.userId }, select: { id: true } });
    suiteId = suite.id;
    suiteVersionId = (
      await db.suiteVersion.create({
        data: { suiteId, version: 1, cases: cases as object[], caseCount: cases.length, sha256: "3".repeat(64), message: "v1", authorId: owner.userId },
        select: { id: true },
      })
    ).id;
    judgeId = (await as("ADMIN").endpoint.create({ projectId: f.projectId, name: unique("judge"), baseUrl: upstream.baseUrl, model: "upstream-model", apiKey: UPSTREAM_KEY, maxConcurrency: 2, timeoutMs: 5_000 })).id;
  });
  afterAll(async () => {
    await worker?.close();
    await upstream?.close();
    await close?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("runs a model version on the server with a judge for its rubric cases", async () => {
    const bad = await trpcRefusal(as("EDITOR").run.create({ projectId: f.projectId, kind: "EVAL", target: "SERVER", config: { judgeEndpointId: f.endpointId + "x" }, suiteVersionId, modelVersionId: versionId }));
    expect(bad.code).toBe("NOT_FOUND");
    const run = await as("EDITOR").run.create({ projectId: f.projectId, kind: "EVAL", target: "SERVER", config: { maxTokens: 32, judgeEndpointId: judgeId }, suiteVersionId, modelVersionId: versionId });
    runId = run.id;
    await until(async () => ["SUCCEEDED", "FAILED", "CANCELLED"].includes((await db.run.findUniqueOrThrow({ where: { id: runId } })).status), "the server run to finish");
    const finished = await db.run.findUniqueOrThrow({ where: { id: runId } });
    expect(finished.error).toBeNull();
    expect(finished.status).toBe("SUCCEEDED");
    const results = await db.evalResult.findMany({ where: { runId }, select: { caseId: true, output: true, pass: true, grades: true }, orderBy: { caseId: "asc" } });
    expect(results).toHaveLength(8);
    // Every verdict is the judge's: it was asked once per case, with the output fenced as data.
    const judgePrompts = upstream.requests.filter((r) => r.body.messages?.[0]?.content.includes("BEGIN_UNTRUSTED_OUTPUT"));
    expect(judgePrompts).toHaveLength(8);
    for (const r of results) {
      expect((r.grades as { grader: string }[]).map((g) => g.grader)).toEqual(["rubric"]);
      expect(r.pass).toBe(r.output.includes("30 days"));
    }
    // The model answers the two questions about the window with it, and no other.
    expect(results.filter((r) => r.pass).map((r) => r.caseId)).toEqual(["refund-late", "refund-window"]);
  });

  it("reports the gate as not evaluable while the judge is uncalibrated, and counts it once people agree with it", async () => {
    // Only an ADMIN sets the bar.
    expect((await trpcRefusal(as("EDITOR").review.setJudgeBar({ projectId: f.projectId, minKappa: 0.1 }))).code).toBe("FORBIDDEN");
    expect(await as("ADMIN").review.setJudgeBar({ projectId: f.projectId, minKappa: 0.8, minLabels: 8 })).toEqual({ minKappa: 0.8, minLabels: 8 });

    // No label yet: the judge's verdicts do not count, and the gate says why (the CLI's exit 2).
    let refused = await trpcRefusal(gate());
    expect(refused.code).toBe("PRECONDITION_FAILED");
    expect(refused.message).toMatch(/uncalibrated judge/);
    expect(refused.message).toContain("graded 8 of the candidate's cases");
    expect(refused.message).toContain("people labelled none of its verdicts; 8 are needed");
    let judges = await as("VIEWER").review.judges({ projectId: f.projectId });
    expect(judges.judges.find((j) => j.judgeEndpointId === judgeId)).toMatchObject({ labels: 0, calibrated: false, kappa: null });

    // People label the run's outputs. They agree with the judge on seven; on one the judge failed, they pass it.
    const queue = await as("ADMIN").review.create({ projectId: f.projectId, name: unique("calibration"), scoreSchema: { pass: true } });
    expect(await as("ADMIN").review.addResults({ reviewQueueId: queue.id, runId })).toEqual({ added: 8 });
    let flipped: string | null = null;
    for (let i = 0; i < 8; i++) {
      const { item } = await as("EDITOR").review.next({ reviewQueueId: queue.id });
      const judgePassed = item!.output.includes("30 days");
      const pass = !judgePassed && flipped === null ? ((flipped = item!.caseId), true) : judgePassed;
      await as("EDITOR").review.label({ reviewItemId: item!.id, label: { pass } });
      if (i === 6) {
        // Seven of the eight labels needed: still not counted.
        refused = await trpcRefusal(gate());
        expect(refused.message).toContain("people labelled 7 of its verdicts; 8 are needed");
      }
    }

    judges = await as("VIEWER").review.judges({ projectId: f.projectId });
    const judge = judges.judges.find((j) => j.judgeEndpointId === judgeId)!;
    // People as the truth: the judge passed both outputs they passed but one, and failed all they failed.
    expect(judge.confusion).toEqual({ truePass: 2, falseFail: 1, falsePass: 0, trueFail: 5 });
    expect(judge.truePositiveRate).toBeCloseTo(2 / 3, 12);
    expect(judge.trueNegativeRate).toBe(1);
    // Observed agreement 7/8, chance agreement (2/8)(3/8) + (6/8)(5/8) = 36/64: kappa = (56/64 - 36/64) / (28/64) = 5/7.
    expect(judge.kappa).toBeCloseTo(5 / 7, 12);
    expect(judge.disagreements).toEqual([expect.objectContaining({ caseId: flipped, queueId: queue.id, runId, judgePass: false, peoplePass: true })]);
    expect(judge.disagreements[0].judgeReason).toBe("judge: does not state the window");
    expect(judge.calibrated).toBe(false);
    refused = await trpcRefusal(gate());
    expect(refused.message).toContain("its kappa with people, 0.71, is below the bar of 0.80");

    // The suite can choose to count uncalibrated judges; only an ADMIN may make that choice.
    expect((await trpcRefusal(as("EDITOR").suite.update({ suiteId, thresholds: { overall: 0.5, countUncalibratedJudges: true } }))).code).toBe("FORBIDDEN");
    await as("ADMIN").suite.update({ suiteId, thresholds: { overall: 0.5, countUncalibratedJudges: true } });
    let report = await gate();
    expect(report.judges).toEqual([expect.objectContaining({ judgeEndpointId: judgeId, run: "candidate", cases: 8, calibrated: false })]);
    // An EDITOR saving other thresholds keeps the ADMIN's choice (and may not undo it).
    await as("EDITOR").suite.update({ suiteId, thresholds: { overall: 0.5, countUncalibratedJudges: true } });
    expect((await trpcRefusal(as("EDITOR").suite.update({ suiteId, thresholds: { overall: 0.5 } }))).code).toBe("FORBIDDEN");
    await as("ADMIN").suite.update({ suiteId, thresholds: { overall: 0.5 } });
    expect((await trpcRefusal(gate())).code).toBe("PRECONDITION_FAILED");

    // The ADMIN lowers the bar below the judge's kappa: its verdicts now count, and the candidate fails on them.
    await as("ADMIN").review.setJudgeBar({ projectId: f.projectId, minKappa: 0.7 });
    report = await gate();
    expect(report.judges).toEqual([{ run: "candidate", judgeEndpointId: judgeId, name: expect.any(String), calibrated: true, reason: null, cases: 8 }]);
    expect(report.pass).toBe(false);
    expect(report.candidate).toEqual({ passRate: 0.25, cases: 8 });
    const audit = await db.auditLog.findMany({ where: { action: "project.judgeCalibrationBar", resourceId: f.projectId }, orderBy: { createdAt: "asc" }, select: { after: true } });
    expect(audit.map((a) => a.after)).toEqual([
      { minKappa: 0.8, minLabels: 8 },
      { minKappa: 0.7, minLabels: 8 },
    ]);
  });
});
