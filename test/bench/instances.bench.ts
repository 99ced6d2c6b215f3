// Two web instances on one PostgreSQL and one object store (#26): what answering through the other
// instance costs. /v1 streamed completions (the official `openai` client, greedy, a real `hearth node`
// process connected to instance 2 only) sent to instance 2 itself and to instance 1, which relays them,
// alternating request by request: tokens/s and time to first token, medians. Then the live feed: a run's
// metric point logged through instance 1, delivered to a subscriber (server-sent events) on instance 1 and
// on instance 2: delivery latency from sending the change, p50 and p99, beside the change's own round trip.
// BENCH_INSTANCES_TOKENS (default 64) tokens per request; BENCH_INSTANCES_EVENTS (default 200) changes.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import OpenAI from "openai";
import S3rver from "s3rver";
import { buildIfStale } from "../../scripts/build";
import { applyMigrations } from "../../server/db/migrate";
import { createPrismaClient } from "../../server/db/client";
import type { GPTPresetName } from "../../gpu/nn/config";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { signInOverHttp, trpcHttp, trpcData } from "../support/http";
import { freePort, startPostgresCluster } from "../support/postgres";
import { startNodeProcess, tinyCheckpoint, type NodeProcess } from "../support/nodes";
import { until } from "../support/serving";
import { subscribe } from "../support/sse";

const TOKENS = Number(process.env.BENCH_INSTANCES_TOKENS ?? 64);
const EVENTS = Number(process.env.BENCH_INSTANCES_EVENTS ?? 200);
const REPEATS = 7;
const PRESETS: GPTPresetName[] = ["tiny", "small"];
const PROMPT = "the refund window is thirty days; a refund after forty days";

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};
const median = (xs: number[]) => quantile(xs, 0.5);

export async function runInstancesBench(): Promise<void> {
  buildIfStale({ quiet: true });
  const cluster = await startPostgresCluster();
  if (!cluster) {
    console.log("skipped: PostgreSQL binaries are needed (two instances cannot share the embedded database)");
    return;
  }
  await applyMigrations(cluster.url);
  const db = createPrismaClient(cluster.url);
  const dirs = [0, 1, 2].map(() => fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-instances-")));
  const s3Port = await freePort();
  const s3 = new S3rver({ port: s3Port, address: "127.0.0.1", directory: dirs[2], silent: true, configureBuckets: [{ name: "hearth" }] });
  await s3.run();
  const env = {
    DATABASE_URL: cluster.url,
    NEXTAUTH_SECRET: randomBytes(32).toString("hex"),
    HEARTH_SECRET_KEY: randomBytes(32).toString("base64"),
    HEARTH_SEED_DEMO: "0",
    HEARTH_S3_BUCKET: "hearth",
    HEARTH_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    HEARTH_S3_ACCESS_KEY_ID: "S3RVER",
    HEARTH_S3_SECRET_ACCESS_KEY: "S3RVER",
  };
  const apps: AppProcess[] = [];
  let node: NodeProcess | undefined;
  try {
    for (let i = 0; i < 2; i++) apps.push(await startAppProcess({ port: await freePort(), dataDir: dirs[i], env }));
    const person = { name: "Bench", email: `bench-${Date.now()}@example.test`, password: "bench-password-123" };
    await trpcHttp(apps[0].url, "mutation", "user.signUp", person);
    const cookie = await signInOverHttp(apps[0].url, person.email, person.password);
    const call = (i: number, kind: "query" | "mutation", procedure: string, input: unknown) => trpcData(apps[i].url, kind, procedure, input, { cookie });
    const org = await call(0, "mutation", "org.create", { name: "Bench" });
    const project = await call(0, "mutation", "project.create", { orgId: org.id, name: "Bench" });
    const key = (await call(0, "mutation", "apiKey.create", { orgId: org.id, name: "bench", scopes: ["models:invoke", "models:write"] })).secret as string;
    for (const preset of PRESETS) {
      const model = await call(0, "mutation", "model.create", { projectId: project.id, name: preset });
      const upload = await fetch(`${apps[0].url}/api/models/${model.id}/versions`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: Buffer.from(tinyCheckpoint(1, preset)) });
      if (upload.status !== 201) throw new Error(`upload: HTTP ${upload.status} ${await upload.text()}`);
    }
    const { secret } = await call(0, "mutation", "node.createToken", { orgId: org.id, name: "bench node" });
    node = startNodeProcess({ serverUrl: apps[1].url, token: secret, name: "bench-node" });
    await until(async () => (await db.gpuNode.findFirst({ where: { orgId: org.id }, select: { servingInstanceId: true } }))?.servingInstanceId != null, "the node connecting to instance 2", () => node!.output());

    const clients = apps.map((app) => new OpenAI({ apiKey: key, baseURL: `${app.url}/v1`, maxRetries: 0, timeout: 600_000 }));
    const once = async (client: OpenAI, preset: GPTPresetName) => {
      const t0 = performance.now();
      let first = 0;
      let tokens = 0;
      const stream = await client.completions.create({ model: `${project.slug}/${preset}:latest`, prompt: PROMPT, max_tokens: TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } });
      for await (const chunk of stream) {
        if (chunk.choices[0]?.text) first ||= performance.now();
        if (chunk.usage) tokens = chunk.usage.completion_tokens;
      }
      return { ttftMs: first - t0, tokensPerS: tokens / ((performance.now() - t0) / 1000) };
    };
    console.log(`/v1 streamed greedy completions of ${TOKENS} tokens, the node connected to instance 2; median of ${REPEATS} alternating pairs after a warm-up (SwiftShader)`);
    console.log("preset  same tok/s  other tok/s  other/same  | same TTFT ms  other TTFT ms  other-same ms");
    for (const preset of PRESETS) {
      await once(clients[1], preset); // loads the model on the node
      await once(clients[0], preset);
      const same: { ttftMs: number; tokensPerS: number }[] = [];
      const other: typeof same = [];
      for (let i = 0; i < REPEATS; i++) {
        same.push(await once(clients[1], preset));
        other.push(await once(clients[0], preset));
      }
      const s = { tps: median(same.map((x) => x.tokensPerS)), ttft: median(same.map((x) => x.ttftMs)) };
      const o = { tps: median(other.map((x) => x.tokensPerS)), ttft: median(other.map((x) => x.ttftMs)) };
      console.log(
        `${preset.padEnd(6)}  ${s.tps.toFixed(1).padStart(10)}  ${o.tps.toFixed(1).padStart(11)}  ${(o.tps / s.tps).toFixed(2).padStart(10)}  | ${s.ttft.toFixed(1).padStart(12)}  ${o.ttft.toFixed(1).padStart(13)}  ${(o.ttft - s.ttft).toFixed(1).padStart(13)}`,
      );
    }

    // The live feed: one metric point per change, through instance 1; subscribers on both instances.
    const user = await db.user.findUniqueOrThrow({ where: { email: person.email }, select: { id: true } });
    const run = await db.run.create({ data: { projectId: project.id, kind: "PRETRAIN", target: "BROWSER", status: "RUNNING", createdById: user.id }, select: { id: true } });
    const feeds = apps.map((app) => subscribe(app.url, "run.liveMetrics", { runId: run.id }, cookie));
    const arrivals = feeds.map(() => new Map<number, number>());
    feeds.forEach((feed, i) => feed.onEvent((event) => {
      for (const point of event.data as { step: number }[]) arrivals[i].set(point.step, performance.now());
    }));
    let step = 0;
    const log = () => call(0, "mutation", "run.logMetrics", { runId: run.id, points: [{ name: "loss", step: ++step, value: 1 / step }] });
    await until(async () => {
      await log();
      return arrivals.every((a) => a.size > 0);
    }, "both feeds live");
    const sent = new Map<number, number>();
    const roundTrips: number[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const t0 = performance.now();
      await log();
      sent.set(step, t0);
      roundTrips.push(performance.now() - t0);
      const mine = step;
      await until(() => arrivals.every((a) => a.has(mine)), `point ${mine} on both feeds`, () => "", 30_000);
    }
    await Promise.all(feeds.map((f) => f.close()));
    const latency = (i: number) => [...sent].map(([s, t0]) => arrivals[i].get(s)! - t0);
    const [here, there] = [latency(0), latency(1)];
    console.log(`live feed: ${EVENTS} metric points logged one at a time through instance 1 (HEARTH_LIVE_POLL_MS ${process.env.HEARTH_LIVE_POLL_MS ?? 250})`);
    console.log("delivered on      p50 ms   p99 ms");
    console.log(`instance 1     ${median(here).toFixed(1).padStart(8)} ${quantile(here, 0.99).toFixed(1).padStart(8)}`);
    console.log(`instance 2     ${median(there).toFixed(1).padStart(8)} ${quantile(there, 0.99).toFixed(1).padStart(8)}`);
    console.log(`(the change's own round trip, logMetrics through instance 1: p50 ${median(roundTrips).toFixed(1)} ms)`);
  } finally {
    await node?.kill("SIGTERM");
    await Promise.allSettled(apps.map((app) => app.stop()));
    await db.$disconnect();
    await s3.close();
    await cluster.stop();
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  }
}
