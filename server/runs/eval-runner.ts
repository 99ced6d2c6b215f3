// Eval runs the web server runs itself: target ENDPOINT (the work is waiting on HTTP, not compute) and
// target SERVER (a small model version on the server's CPU engine, server/runs/server-eval.ts: the demo's).
// A worker claims QUEUED runs (and RUNNING ones whose lease expired: their server stopped) with a
// conditional update, so several instances sharing a database never run one twice. It keeps a lease
// while working, runs each case not yet graded (so a resumed run skips what is done), grades with the
// shared graders, stores each result as it arrives, logs progress metrics, and honours cancel. An
// endpoint run calls the endpoint with its concurrency limit; a server run takes one case at a time.
import type { PrismaClient } from "@/server/db/generated/client";
import { gradeCase, type ChatMessage, type EvalCase, type Judge } from "@/gpu/eval";
import { promptOf } from "@/gpu/eval/runner";
import { recordAudit } from "@/server/audit/service";
import { publishMetricPoints, type MetricPoint } from "@/server/runs/events";
import { callEndpoint, DEFAULT_RETRY, endpointJudge, EndpointError, type EndpointPrompt, type RetryPolicy } from "@/server/endpoints/client";
import { EndpointEvalConfigSchema, type EndpointEvalConfig } from "@/server/endpoints/eval-config";
import { endpointTarget } from "@/server/endpoints/service";
import { endpointRunEvents } from "@/server/endpoints/events";
import { OutboundRequestError, type GuardOptions } from "@/server/endpoints/ssrf";
import { SecretKeyMismatch } from "@/server/endpoints/crypto";
import { jsonValue } from "@/server/db/json";
import { parseStoredCases } from "@/contracts/eval-case";
import { executeServerModelRun } from "@/server/runs/server-eval";
import { failRun, failWithInternalError, finishClaimedRun, holdLease, type ClaimedRun } from "./run-lease";
import { getArtifactStore, type ArtifactStore } from "@/server/storage";

const SYSTEM = { type: "system" } as const;

export interface EndpointRunWorkerOptions {
  db: PrismaClient;
  /** How often to look for queued runs and expired leases besides being woken (default 5 s). */
  pollMs?: number;
  /** A claimed run is this server's until then; renewed every third of it (default 30 s). */
  leaseMs?: number;
  /** Runs executed at once by this instance (default 4). */
  maxRuns?: number;
  retry?: RetryPolicy;
  guard?: GuardOptions;
  /** Where server runs read model folders from (default: the configured artifact store). */
  store?: ArtifactStore;
}

export interface EndpointRunWorker {
  /** Looks for work now. */
  wake(): void;
  /** Stops claiming, stops the runs in progress and hands their leases back for another start to resume. */
  close(): Promise<void>;
}


export function startEndpointRunWorker(options: EndpointRunWorkerOptions): EndpointRunWorker {
  const { db } = options;
  const pollMs = options.pollMs ?? 5_000;
  const leaseMs = options.leaseMs ?? 30_000;
  const maxRuns = options.maxRuns ?? 4;
  const active = new Map<string, { controller: AbortController; done: Promise<void>; target: ClaimedRun["target"] }>();
  let closed = false;
  let wakeUp: (() => void) | null = null;
  let timer: NodeJS.Timeout | null = null;

  const wake = () => {
    wakeUp?.();
  };
  endpointRunEvents.on("queued", wake);

  async function loop() {
    while (!closed) {
      let claimed: ClaimedRun | null = null;
      if (active.size < maxRuns) {
        try {
          claimed = await claimNext(db, leaseMs, [...active.values()].some((a) => a.target === "SERVER"));
        } catch (error) {
          if (!closed) console.error("[hearth] server-side eval runs: could not claim a run:", error);
        }
      }
      if (claimed) {
        const controller = new AbortController();
        const run = claimed;
        const done = (
          run.target === "SERVER"
            ? executeServerModelRun(db, run, controller, { leaseMs, store: options.store ?? getArtifactStore(), retry: options.retry ?? DEFAULT_RETRY, guard: options.guard })
            : executeRun(db, run, controller, { leaseMs, retry: options.retry ?? DEFAULT_RETRY, guard: options.guard })
        )
          .catch((error) => console.error(`[hearth] ${run.target.toLowerCase()} run ${run.id} stopped:`, error))
          .finally(() => {
            active.delete(run.id);
            wake();
          });
        active.set(run.id, { controller, done, target: run.target });
        continue;
      }
      await new Promise<void>((resolve) => {
        wakeUp = resolve;
        timer = setTimeout(resolve, pollMs);
      });
      wakeUp = null;
      if (timer) clearTimeout(timer);
    }
  }
  const looping = loop();

  return {
    wake,
    async close() {
      closed = true;
      endpointRunEvents.off("queued", wake);
      wake();
      await looping;
      const stopping = [...active.entries()];
      for (const [, { controller }] of stopping) controller.abort(new Error("server stopping"));
      await Promise.all(stopping.map(([, { done }]) => done));
      // Not a failure of the run: give the lease and the attempt back so the next start resumes it at once.
      for (const [runId] of stopping) {
        await db.run.updateMany({ where: { id: runId, status: "RUNNING" }, data: { leaseExpiresAt: new Date(0), attempts: { decrement: 1 } } }).catch(() => undefined);
      }
    },
  };
}

/**
 * Claims the oldest queued endpoint or server run, or a running one whose server stopped renewing its
 * lease. A server run (CPU-bound) is claimed only while this instance runs no other.
 */
async function claimNext(db: PrismaClient, leaseMs: number, serverRunActive: boolean): Promise<ClaimedRun | null> {
  // The database's clock, not this instance's: instances sharing a database agree on when a lease ends.
  const now = await databaseNow(db);
  const candidates = await db.run.findMany({
    where: {
      target: serverRunActive ? "ENDPOINT" : { in: ["ENDPOINT", "SERVER"] },
      kind: "EVAL",
      OR: [{ status: "QUEUED" }, { status: "RUNNING", OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] }],
    },
    select: {
      id: true,
      target: true,
      status: true,
      leaseExpiresAt: true,
      attempts: true,
      maxAttempts: true,
      projectId: true,
      endpointId: true,
      modelVersionId: true,
      suiteVersionId: true,
      config: true,
      project: { select: { orgId: true } },
    },
    orderBy: { createdAt: "asc" },
    take: 5,
  });
  for (const c of candidates) {
    const leaseExpiresAt = new Date(now.getTime() + leaseMs);
    const resumed = c.status === "RUNNING";
    const won = await db.$transaction(async (tx) => {
      // Conditional on what was read: of several instances racing for this run, one wins.
      const changed = await tx.run.updateMany({
        where: { id: c.id, status: c.status, leaseExpiresAt: c.leaseExpiresAt },
        data: { status: "RUNNING", leaseExpiresAt, attempts: { increment: 1 }, ...(resumed ? {} : { startedAt: now }) },
      });
      if (changed.count !== 1) return false;
      await recordAudit(tx, SYSTEM, {
        orgId: c.project.orgId,
        action: resumed ? "run.resumed" : "run.running",
        resourceType: "Run",
        resourceId: c.id,
        before: { status: c.status },
        after: { status: "RUNNING", attempt: c.attempts + 1 },
      });
      return true;
    });
    if (!won) continue;
    if (c.attempts + 1 > c.maxAttempts) {
      await failRun(db, c.project.orgId, c.id, `The server stopped ${c.attempts} times while this eval was running; giving up after ${c.maxAttempts} attempts.`);
      continue;
    }
    const target = c.target === "SERVER" ? "SERVER" : "ENDPOINT";
    return { id: c.id, target, projectId: c.projectId, orgId: c.project.orgId, endpointId: c.endpointId, modelVersionId: c.modelVersionId, suiteVersionId: c.suiteVersionId, config: c.config, leaseExpiresAt };
  }
  return null;
}

async function databaseNow(db: PrismaClient): Promise<Date> {
  const [row] = await db.$queryRaw<{ now: Date }[]>`SELECT (now() AT TIME ZONE 'UTC') AS now`;
  return row.now;
}



/** The request for one case: the endpoint API and input the run's config asks for. */
export function endpointInput(input: string | ChatMessage[], api: EndpointEvalConfig["api"]): EndpointPrompt {
  if (api === "completions") return { prompt: promptOf(input) };
  if (typeof input === "string") return api === "chat" ? { messages: [{ role: "user", content: input }] } : { prompt: input };
  return { messages: input };
}

async function executeRun(
  db: PrismaClient,
  run: ClaimedRun,
  controller: AbortController,
  o: { leaseMs: number; retry: RetryPolicy; guard?: GuardOptions },
): Promise<void> {
  const lease = holdLease(db, run, controller, o.leaseMs);
  try {
    if (!run.endpointId) return await failRun(db, run.orgId, run.id, "The run's endpoint was deleted.");
    if (!run.suiteVersionId) return await failRun(db, run.orgId, run.id, "An eval run needs a suite version.");
    const parsed = EndpointEvalConfigSchema.safeParse(run.config ?? {});
    if (!parsed.success) return await failRun(db, run.orgId, run.id, `The run's config is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const config = parsed.data;
    let target: Awaited<ReturnType<typeof endpointTarget>>;
    let judgeTarget: Awaited<ReturnType<typeof endpointTarget>> | undefined;
    try {
      target = await endpointTarget(db, run.endpointId);
      if (config.judgeEndpointId) judgeTarget = await endpointTarget(db, config.judgeEndpointId);
    } catch (error) {
      if (error instanceof SecretKeyMismatch) return await failRun(db, run.orgId, run.id, error.message);
      throw error;
    }
    const version = await db.suiteVersion.findUniqueOrThrow({ where: { id: run.suiteVersionId }, select: { cases: true } });
    const cases = parseStoredCases(version.cases);
    const already = await db.evalResult.findMany({ where: { runId: run.id }, select: { caseId: true } });
    const done = new Set(already.map((r) => r.caseId));
    const remaining = cases.filter((c) => !done.has(c.id));
    let completed = done.size;
    let answered = 0;
    const stop: { fatal: EndpointError | null } = { fatal: null };
    const judge: Judge | undefined = judgeTarget ? endpointJudge(judgeTarget, { signal: controller.signal, retry: o.retry, guard: o.guard }) : undefined;

    async function runCase(c: EvalCase): Promise<void> {
      // Endpoints report no log-likelihoods: a case with only multiple-choice graders needs no call.
      const needsOutput = c.graders.some((g) => g.type !== "multiple-choice");
      let output = "";
      let usage: { latencyMs: number | null; promptTokens: number | null; completionTokens: number | null } = { latencyMs: null, promptTokens: null, completionTokens: null };
      let failure: string | null = null;
      if (needsOutput) {
        try {
          const reply = await callEndpoint(
            target,
            { input: endpointInput(c.input, config.api), maxTokens: config.maxTokens, temperature: config.temperature, stop: config.stop, seed: config.seed },
            { signal: controller.signal, retry: o.retry, guard: o.guard },
          );
          output = reply.text;
          usage = { latencyMs: reply.latencyMs, promptTokens: reply.promptTokens, completionTokens: reply.completionTokens };
          answered++;
        } catch (error) {
          if (error instanceof OutboundRequestError && error.kind === "aborted") return;
          if (!(error instanceof EndpointError)) throw error;
          if (error.fatal || answered === 0) {
            // A refused address or a wrong key fails every case alike; so does an endpoint that never answered.
            stop.fatal ??= error;
            controller.abort(error);
            return;
          }
          failure = error.message;
        }
      }
      if (controller.signal.aborted) return;
      const graded = failure
        ? { score: 0, pass: false, graders: [{ grader: "endpoint", score: 0, pass: false, reason: `The endpoint gave no answer: ${failure}` }] }
        : await gradeCase(c, output, { judge });
      await db.evalResult.createMany({
        data: [{ runId: run.id, caseId: c.id, output, grades: jsonValue(graded.graders), score: graded.score, pass: graded.pass, ...usage }],
        skipDuplicates: true,
      });
      const step = ++completed;
      const points: MetricPoint[] = [{ name: "cases_done", step, value: step }];
      if (usage.latencyMs !== null) points.push({ name: "latency_ms", step, value: usage.latencyMs });
      if (usage.completionTokens !== null) points.push({ name: "completion_tokens", step, value: usage.completionTokens });
      await db.runMetric.createMany({ data: points.map((p) => ({ runId: run.id, ...p })), skipDuplicates: true });
      await publishMetricPoints(db, run.id, points);
    }

    // The first case runs alone: an endpoint that does not answer at all fails the run after one case's retries.
    const [first, ...rest] = remaining;
    if (first) await runCase(first);
    await forEachLimited(rest, target.maxConcurrency, runCase, controller.signal);

    if (stop.fatal) return await failRun(db, run.orgId, run.id, `The endpoint "${target.name}" could not be used: ${stop.fatal.message}`);
    await finishClaimedRun(db, run, controller, lease);
  } catch (error) {
    if (!controller.signal.aborted) await failWithInternalError(db, run, error);
  } finally {
    lease.release();
  }
}


/** Runs `fn` over `items`, at most `limit` at a time, starting no new item once `signal` aborts. */
async function forEachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>, signal: AbortSignal): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !signal.aborted) await fn(items[next++]);
  });
  await Promise.all(lanes);
}
