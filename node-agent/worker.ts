// `hearth node`: registers this machine's GPU with a Hearth server, heartbeats (renewing the lease of
// the job it works on and learning of cancels), leases one job at a time, and serves inference.
// When the server is unreachable it keeps its work in memory and retries with backoff; when its
// token is refused it stops.
import os from "node:os";
import type { GpuContext } from "@/gpu/device";
import { NODE_JOB_KINDS, type EngineReport, type LeasedJob, type LeaseState, type NodeEngine } from "@/contracts/node-protocol";
import { NodeApiClient, RequestRefused, ServerUnavailable, sleep, TokenRefused, withRetry } from "./client";
import { ActiveJob, JobFailure, runEvaluation, runTraining, webgpuEvalEngine, type JobEnv } from "./run-job";
import { LoadedModelCache } from "./model-cache";
import type { TextModel } from "@/gpu/nn/text-model";
import { NodeServing } from "./serving";
import { runTorchTraining, torchRanks, type TorchEnv } from "./torch-engine";
import { torchEvalEngine } from "./torch-inference";

export interface NodeWorkerOptions {
  serverUrl: string;
  token: string;
  name: string;
  /** Memory the node offers to jobs; default: the machine's RAM on a CPU adapter, else unknown. */
  memoryBytes?: number;
  /** Milliseconds between lease attempts while idle (default 1000, jittered by ±20%). */
  pollMs?: number;
  serve?: boolean;
  openGpu: () => Promise<GpuContext>;
  /** false: the node does not offer the webgpu engine (--engines torch); it opens no WebGPU device. */
  webgpu?: boolean;
  /** The torch engine: its Python environment when it runs, and what the node reports about it. */
  torch?: { env: TorchEnv | null; report: EngineReport };
  /** Where peers reach this node when it hosts a multi-node job's rendezvous; absent: no multi-node jobs. */
  rendezvousAddress?: string;
  log?: (line: string) => void;
}

const VERSION = "1";

export class NodeWorker {
  readonly api: NodeApiClient;
  private ctx: GpuContext | null = null;
  private serving: NodeServing | null = null;
  private active: ActiveJob | null = null;
  private stopping = false;
  private heartbeatMs = 1000;
  private lastContact = Date.now();
  private fatal: Error | null = null;
  private wake: (() => void) | null = null;
  private readonly log: (line: string) => void;
  private readonly evalModel = new LoadedModelCache<TextModel>(1);
  private waiting: string | null = null;

  constructor(private readonly options: NodeWorkerOptions) {
    this.api = new NodeApiClient(options.serverUrl.replace(/\/+$/, ""), options.token);
    this.log = options.log ?? ((line) => console.log(`[hearth node] ${line}`));
  }

  /** Runs until stop() or a refused token; resolves with the reason it ended. */
  async run(): Promise<{ reason: "stopped" | "token-refused"; message?: string }> {
    if (this.options.webgpu !== false) this.ctx = await this.options.openGpu();
    if (!this.engines().length) throw new Error(`no engine to run: ${this.engineReports().map((r) => `${r.engine}: ${r.reason}`).join("; ")}`);
    try {
      await this.register();
    } catch (error) {
      if (this.stopping && error instanceof ServerUnavailable) return { reason: "stopped" };
      if (error instanceof TokenRefused) {
        this.log(`the server refused this node's token: ${error.message}`);
        return { reason: "token-refused", message: error.message };
      }
      throw error;
    }
    if (this.options.serve !== false) {
      this.serving = new NodeServing(this.api, { openGpu: this.ctx ? this.options.openGpu : null, torch: this.options.torch?.env ?? null }, this.log);
      this.serving.start();
    }
    const beating = this.heartbeatLoop();
    try {
      await this.leaseLoop();
    } finally {
      this.stopping = true;
      await beating;
      await this.serving?.stop();
    }
    if (this.fatal instanceof TokenRefused) return { reason: "token-refused", message: this.fatal.message };
    if (this.fatal) throw this.fatal;
    return { reason: "stopped" };
  }

  stop(): void {
    this.stopping = true;
    this.active?.stop("shutdown");
    this.wake?.();
  }

  private halt(error: Error): void {
    this.fatal ??= error;
    this.stop();
  }

  /** What the node says about each engine at registration. */
  private engineReports(): EngineReport[] {
    const webgpu: EngineReport = this.ctx ? { engine: "webgpu", available: true } : { engine: "webgpu", available: false, reason: "not offered by this node (started with --engines torch)" };
    const env = this.options.torch?.env;
    const torch: EngineReport = env ? { ...this.options.torch!.report, ranks: torchRanks(env) } : this.options.torch?.report ?? { engine: "torch", available: false, reason: "no Python environment given: start the node with --python PATH (one with torch, transformers, peft and safetensors) or --setup-torch cpu" };
    return [webgpu, torch];
  }

  /** The engines this node runs, in the order it prefers them for training: torch first. */
  private engines(): NodeEngine[] {
    return [...(this.options.torch?.env ? (["torch"] as const) : []), ...(this.ctx ? (["webgpu"] as const) : [])];
  }

  private async register(): Promise<void> {
    const report = this.ctx?.report ?? { adapter: { vendor: "", architecture: "", device: "", description: "no WebGPU device (torch engine only)" }, features: {} as Record<string, unknown>, limits: {} as Record<string, number> };
    const cpuAdapter = !this.ctx || /swiftshader|llvmpipe|lavapipe|cpu/i.test(`${report.adapter.vendor} ${report.adapter.architecture} ${report.adapter.description}`);
    const torchGpus = this.options.torch?.env?.gpus ?? [];
    const memoryBytes = this.options.memoryBytes ?? (torchGpus.length ? Math.min(...torchGpus.map((g) => g.memoryBytes)) : cpuAdapter ? os.totalmem() : null);
    const features = Object.entries(report.features)
      .filter(([, v]) => v === true)
      .map(([k]) => k);
    const engines = this.engineReports();
    const registration = await withRetry(
      () =>
        this.api.call<{ nodeId: string; heartbeatMs: number; leaseMs: number }>("POST", "register", {
          json: { name: this.options.name, adapter: report.adapter, features, limits: Object.fromEntries(Object.entries({ ...report.limits, subgroupMinSize: report.features.subgroupMinSize, subgroupMaxSize: report.features.subgroupMaxSize }).filter(([, v]) => typeof v === "number")), memoryBytes, version: VERSION, engines, rendezvousAddress: this.options.rendezvousAddress ?? null },
        }),
      { stopped: () => this.stopping, onRetry: (error, delay) => this.log(`registering: ${error.message}; retrying in ${(delay / 1000).toFixed(1)} s`) },
    );
    this.api.nodeId = registration.nodeId;
    this.heartbeatMs = registration.heartbeatMs;
    this.lastContact = Date.now();
    const adapter = [report.adapter.vendor, report.adapter.architecture, report.adapter.description].filter(Boolean).join(" / ");
    this.log(`registered with ${this.api.serverUrl} as "${this.options.name}" (node ${registration.nodeId}); adapter ${adapter || "unknown"}; lease ${registration.leaseMs / 1000} s`);
    for (const e of engines) {
      const versions = e.versions ? Object.entries(e.versions).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ") : "";
      const gpus = e.gpus?.length ? `; GPUs: ${e.gpus.map((g) => `${g.name} (${(g.memoryBytes / 1024 ** 3).toFixed(0)} GiB)`).join(", ")}` : e.engine === "torch" && e.available ? "; no CUDA GPU: training runs on the CPU" : "";
      this.log(`engine ${e.engine}: ${e.available ? `available${versions ? ` (${versions})` : ""}${gpus}` : `unavailable: ${e.reason}`}`);
    }
  }

  private async heartbeatLoop(): Promise<void> {
    let outage = false;
    while (!this.stopping) {
      const active = this.active;
      try {
        const reply = await this.api.call<{ lease: LeaseState | null }>("POST", "heartbeat", {
          json: { runId: active?.job.runId ?? null, loadedModelVersionIds: this.serving?.loadedModelVersionIds() ?? [] },
          signal: AbortSignal.timeout(Math.max(5000, this.heartbeatMs * 5)),
        });
        if (outage) this.log("the server is reachable again");
        outage = false;
        this.lastContact = Date.now();
        if (active && reply.lease && active === this.active) {
          if (reply.lease.state === "cancelled") {
            if (!active.stopped) this.log(`run ${active.job.runId}: ${reply.lease.message} Stopping.`);
            active.stop("cancelled");
          } else if (reply.lease.state === "lost") {
            if (!active.stopped) this.log(`run ${active.job.runId}: ${reply.lease.message} Dropping it.`);
            active.stop("lost");
          } else if (reply.lease.reclaimed) {
            // A reclaim is a new attempt of the run: what this node reports from now on says so.
            if (reply.lease.attempt) active.job.attempt = reply.lease.attempt;
            this.log(`run ${active.job.runId}: taken back after the outage (attempt ${active.job.attempt}); continuing`);
          }
        }
      } catch (error) {
        if (error instanceof TokenRefused) {
          this.log(`the server refused this node's token: ${error.message} Stopping; start the node again with a valid token.`);
          this.halt(error);
          return;
        }
        if (!outage) this.log(`heartbeat failed: ${(error as Error).message}; keeping the work in memory and retrying`);
        outage = true;
        // Re-register if the server forgot this node (its row was removed after a long outage).
        if (error instanceof RequestRefused && error.status === 410) await this.register().catch(() => {});
      }
      await sleep(this.heartbeatMs);
    }
  }

  private async leaseLoop(): Promise<void> {
    const pollMs = this.options.pollMs ?? 1000;
    while (!this.stopping) {
      let job: LeasedJob | null = null;
      try {
        let waiting: string | null | undefined;
        const ranks = this.options.torch?.env ? torchRanks(this.options.torch.env) : 1;
        ({ job, waiting } = await this.api.call<{ job: LeasedJob | null; waiting?: string | null }>("POST", "lease", { json: { kinds: NODE_JOB_KINDS, engines: this.engines(), ranks } }));
        // Said once each time it changes, not at every poll.
        if (!job && (waiting ?? null) !== this.waiting && waiting) this.log(waiting);
        if (!job) this.waiting = waiting ?? null;
      } catch (error) {
        if (error instanceof TokenRefused) {
          this.log(`the server refused this node's token: ${error.message} Stopping.`);
          this.halt(error);
          return;
        }
        if (!(error instanceof ServerUnavailable)) this.log(`leasing failed: ${(error as Error).message}`);
      }
      if (job) await this.work(job);
      else await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, pollMs * (0.8 + Math.random() * 0.4));
      });
    }
  }

  private async work(job: LeasedJob): Promise<void> {
    const active = new ActiveJob(job);
    this.active = active;
    const engine = job.engine ?? "webgpu";
    const gang = job.gang ? ` as node rank ${job.gang.nodeRank} of ${job.gang.nodes} (rendezvous ${job.gang.address}:${job.gang.port})` : "";
    this.log(`leased run ${job.runId} (${job.kind}, attempt ${job.attempt} of ${job.maxAttempts}) on engine ${engine}${gang}`);
    if (job.kind !== "EVAL") this.evalModel.release(); // training needs the device's memory
    const path = `runs/${encodeURIComponent(job.runId)}`;
    try {
      let outcome;
      if (engine === "torch") {
        const torch = this.options.torch?.env;
        if (!torch) throw new JobFailure("This node was handed a torch job it cannot run.", true);
        outcome =
          job.kind === "EVAL"
            ? await runEvaluation({ api: this.api, log: this.log, evalModel: this.evalModel }, active, torchEvalEngine(torch, this.log))
            : await runTorchTraining({ api: this.api, torch, log: this.log }, active);
      } else {
        if (!this.ctx) throw new JobFailure("This node was handed a webgpu job but runs torch only.", true);
        const env: JobEnv = { api: this.api, ctx: this.ctx, log: this.log, evalModel: this.evalModel };
        outcome = job.kind === "EVAL" ? await runEvaluation(env, active, webgpuEvalEngine(this.ctx)) : await runTraining(env, active);
      }
      // Node rank 0 of a gang reports the job's result; the others only finished their part.
      if (outcome.status === "succeeded" && job.gang?.nodeRank) this.log(`run ${job.runId}: this node's part finished (${outcome.detail})`);
      else if (outcome.status === "succeeded") this.log(`run ${job.runId} succeeded: ${outcome.detail}`);
      else await this.afterStop(active, outcome.reason);
    } catch (error) {
      if (active.stopped) {
        await this.afterStop(active, active.stopReason!);
      } else {
        // A request the server refuses as invalid (a missing artifact, say) fails the same way on any node.
        const retryable = !((error instanceof JobFailure && !error.retryable) || error instanceof RequestRefused);
        const message = (error as Error).message || String(error);
        this.log(`run ${job.runId} failed on this attempt: ${message}`);
        await withRetry(() => this.api.call("POST", `${path}/fail`, { json: { error: message.slice(0, 4000), retryable } }), { stopped: () => Date.now() - this.lastContact > 60_000 }).catch((e: Error) =>
          this.log(`could not report the failure (${e.message}); the lease will expire instead`),
        );
      }
    } finally {
      this.active = null;
    }
  }

  private async afterStop(active: ActiveJob, reason: string): Promise<void> {
    const path = `runs/${encodeURIComponent(active.job.runId)}`;
    if (reason === "cancelled") {
      await withRetry(() => this.api.call("POST", `${path}/release`, { json: {} }), { stopped: () => this.stopping }).catch(() => {});
      this.log(`run ${active.job.runId} cancelled at step ${active.step}`);
    } else if (reason === "shutdown") {
      // Hand the job back now rather than making the queue wait for the lease to expire.
      await this.api.call("POST", `${path}/fail`, { json: { error: `The node "${this.options.name}" was stopped while running this job.`, retryable: true } }).catch(() => {});
      this.log(`run ${active.job.runId} handed back (the node is stopping)`);
    } else if (active.job.gang) {
      this.log(`run ${active.job.runId} stopped: this attempt ended on another node of its gang`);
    } else {
      this.log(`run ${active.job.runId} dropped: another node holds it now`);
    }
  }
}
