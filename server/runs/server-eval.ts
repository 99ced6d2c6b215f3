// Eval runs with target SERVER: a small model version (a Hugging Face folder of at most
// SERVER_EVAL_MAX_PARAMETERS) evaluated by the web server itself on the CPU engine
// (gpu/nn/cpu-network.ts), so a Hearth without GPU nodes or a browser tab open still measures the models
// it ships: the demo project's are evaluated this way at first start. Claimed, leased, resumed and
// cancelled like endpoint runs (server/runs/eval-runner.ts, which calls this); one case at a time,
// yielding between tokens, one such run per instance.
import type { PrismaClient } from "@/server/db/generated/client";
import { parseStoredCases } from "@/contracts/eval-case";
import { runEval, textEvalModel } from "@/gpu/eval/runner";
import { CPU_MAX_PARAMETERS, loadCpuTextModel } from "@/gpu/nn/cpu-network";
import { TextModelError } from "@/gpu/nn/text-model";
import { HFConfigError } from "@/gpu/nn/hf-config";
import { HfTokenizerError } from "@/gpu/tokenizer";
import { jsonValue } from "@/server/db/json";
import { publishMetricPoints } from "@/server/runs/events";
import { storeFolderReader } from "@/server/models/folders";
import type { ArtifactStore } from "@/server/storage";
import { failRun, failWithInternalError, finishClaimedRun, holdLease, type ClaimedRun } from "./run-lease";
import { endpointJudge, type RetryPolicy } from "@/server/endpoints/client";
import { endpointTarget } from "@/server/endpoints/service";
import { SecretKeyMismatch } from "@/server/endpoints/crypto";
import type { GuardOptions } from "@/server/endpoints/ssrf";
import type { Judge } from "@/gpu/eval";
import { judgeOfRun } from "@/server/review/calibration";

/** The largest model (parameters) the server evaluates on its CPU (HEARTH_SERVER_EVAL_MAX_PARAMETERS). */
export const SERVER_EVAL_MAX_PARAMETERS = Number(process.env.HEARTH_SERVER_EVAL_MAX_PARAMETERS ?? CPU_MAX_PARAMETERS);

/**
 * Where an eval of this model version runs when no person picks: on the server (SERVER) when it is a
 * Hugging Face folder version small enough for the server's CPU engine, else on a GPU node (NODE).
 */
export async function evalTargetForModelVersion(db: Pick<PrismaClient, "modelVersion" | "modelVersionFile">, modelVersionId: string): Promise<"SERVER" | "NODE"> {
  const [version, files] = await Promise.all([
    db.modelVersion.findUnique({ where: { id: modelVersionId }, select: { config: true } }),
    db.modelVersionFile.count({ where: { modelVersionId } }),
  ]);
  const parameters = (version?.config as { parameters?: unknown } | null)?.parameters;
  return files > 0 && typeof parameters === "number" && parameters <= SERVER_EVAL_MAX_PARAMETERS ? "SERVER" : "NODE";
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

export interface ServerRunOptions {
  leaseMs: number;
  /** Where the model folders are read from. */
  store: ArtifactStore;
  /** For the judge endpoint's calls (rubric graders). */
  retry?: RetryPolicy;
  guard?: GuardOptions;
}

export async function executeServerModelRun(db: PrismaClient, run: ClaimedRun, controller: AbortController, o: ServerRunOptions): Promise<void> {
  const { store } = o;
  const lease = holdLease(db, run, controller, o.leaseMs);
  try {
    if (!run.modelVersionId) return await failRun(db, run.orgId, run.id, "The run names no model version to evaluate.");
    if (!run.suiteVersionId) return await failRun(db, run.orgId, run.id, "An eval run needs a suite version.");
    const files = await db.modelVersionFile.findMany({ where: { modelVersionId: run.modelVersionId }, select: { path: true, sha256: true, sizeBytes: true } });
    if (!files.length) return await failRun(db, run.orgId, run.id, "The server evaluates Hugging Face folder versions only; this model version is a Hearth checkpoint (evaluate it in the browser or on a node).");
    let model: Awaited<ReturnType<typeof loadCpuTextModel>>;
    try {
      const reader = storeFolderReader(store, new Map(files.map((f) => [f.path, { sha256: f.sha256, size: Number(f.sizeBytes) }])));
      model = await loadCpuTextModel(reader, { maxParameters: SERVER_EVAL_MAX_PARAMETERS });
    } catch (error) {
      if (error instanceof TextModelError || error instanceof HFConfigError || error instanceof HfTokenizerError) {
        return await failRun(db, run.orgId, run.id, `The server cannot evaluate this model version: ${error.message}.`);
      }
      throw error;
    }
    // Rubric graders are graded by the run's judge endpoint, when it names one (as endpoint runs are).
    let judge: Judge | undefined;
    const judgeEndpointId = judgeOfRun(run);
    if (judgeEndpointId) {
      const found = await db.endpoint.findFirst({ where: { id: judgeEndpointId, projectId: run.projectId }, select: { id: true } });
      if (!found) return await failRun(db, run.orgId, run.id, "The run's judge endpoint was deleted.");
      try {
        judge = endpointJudge(await endpointTarget(db, judgeEndpointId), { signal: controller.signal, retry: o.retry, guard: o.guard });
      } catch (error) {
        if (error instanceof SecretKeyMismatch) return await failRun(db, run.orgId, run.id, error.message);
        throw error;
      }
    }
    try {
      await evaluate(db, run, model, controller, judge);
    } finally {
      model.release();
    }
    await finishClaimedRun(db, run, controller, lease);
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof TextModelError) return await failRun(db, run.orgId, run.id, `The model could not answer a case: ${error.message}.`);
    await failWithInternalError(db, run, error);
  } finally {
    lease.release();
  }
}


/** Runs the cases the run has no result for yet, storing each result and a progress point as it comes. */
async function evaluate(db: PrismaClient, run: ClaimedRun, model: Awaited<ReturnType<typeof loadCpuTextModel>>, controller: AbortController, judge: Judge | undefined): Promise<void> {
  const config = (run.config ?? {}) as { maxTokens?: unknown; temperature?: unknown; topK?: unknown; seed?: unknown; stop?: unknown };
  const evalModel = textEvalModel(model, {
    maxNewTokens: Math.max(1, Math.min(num(config.maxTokens) ?? 64, 512)),
    temperature: num(config.temperature),
    topK: num(config.topK),
    seed: num(config.seed),
    stop: Array.isArray(config.stop) && config.stop.every((s) => typeof s === "string") ? (config.stop as string[]) : undefined,
  });
  const version = await db.suiteVersion.findUniqueOrThrow({ where: { id: run.suiteVersionId! }, select: { cases: true } });
  const cases = parseStoredCases(version.cases);
  const done = new Set((await db.evalResult.findMany({ where: { runId: run.id }, select: { caseId: true } })).map((r) => r.caseId));
  let completed = done.size;
  // Each result is stored as it comes (in order, one write at a time); a failed write fails the run after the case in hand.
  let writing: Promise<void> = Promise.resolve();
  let writeError: unknown = null;
  await runEval(
    cases.filter((c) => !done.has(c.id)),
    evalModel,
    {
      signal: controller.signal,
      judge,
      onCase: (r) => {
        const step = ++completed;
        writing = writing.then(async () => {
            await db.evalResult.createMany({ data: [{ runId: run.id, caseId: r.caseId, output: r.output, grades: jsonValue(r.graders), score: r.score, pass: r.pass }], skipDuplicates: true });
            const points = [{ name: "cases_done", step, value: step }];
            await db.runMetric.createMany({ data: points.map((p) => ({ runId: run.id, ...p })), skipDuplicates: true });
            await publishMetricPoints(db, run.id, points);
        }).catch((error: unknown) => {
          writeError ??= error;
          controller.abort(error);
        });
      },
    },
  );
  await writing;
  if (writeError) throw writeError;
}
