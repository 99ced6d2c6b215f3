// Two Hearth instances on one PostgreSQL and one object store (S3-compatible), as a deployment behind a
// load balancer runs them (#26): a change made through instance 1 reaches a live subscription (server-sent
// events) on instance 2; a subscriber of a restarted instance 2 resumes from the last event id it saw and
// gets what it missed; signing out through instance 1 ends the session on instance 2; failed sign-ins count
// across both. A /v1 request sent to instance 1 is answered by a GPU node (a real `hearth node` process)
// connected only to instance 2, streamed back, and a client that hangs up stops the node's generation;
// stopping instance 1 (SIGTERM) mid-stream lets the answer finish; killing instance 1 mid-stream fails the client's stream, stops the node, records nothing, and the next
// request through the round-robin proxy is answered by instance 2.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import S3rver from "s3rver";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { applyMigrations } from "@/server/db/migrate";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { signInOverHttp, trpcHttp, trpcData } from "../support/http";
import { subscribe } from "../support/sse";
import { freePort, startPostgresCluster, type PostgresCluster } from "../support/postgres";
import { unique } from "../support/fixtures";
import { startNodeProcess, tinyCheckpoint, type NodeProcess } from "../support/nodes";
import { startRoundRobinProxy, type RoundRobinProxy } from "../support/round-robin-proxy";

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function signOutOverHttp(baseUrl: string, sessionCookie: string) {
  const csrf = await fetch(`${baseUrl}/api/auth/csrf`, { headers: { cookie: sessionCookie } });
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const cookies = [sessionCookie, ...csrf.headers.getSetCookie().map((c) => c.split(";")[0])].join("; ");
  const response = await fetch(`${baseUrl}/api/auth/signout`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookies },
    body: new URLSearchParams({ csrfToken, json: "true" }),
  });
  expect(response.status).toBeLessThan(400);
}

describe("two instances on one PostgreSQL", () => {
  let cluster: PostgresCluster | null = null;
  const dataDirs = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), "hearth-instance-")));
  const s3Dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-instances-s3-"));
  let s3: S3rver | null = null;
  const shared: Record<string, string> = { NEXTAUTH_SECRET: randomBytes(32).toString("hex"), HEARTH_SECRET_KEY: randomBytes(32).toString("base64"), HEARTH_SEED_DEMO: "0" };
  const ports: number[] = [];
  let proxy: RoundRobinProxy | null = null;
  let db: PrismaClient | null = null;
  let node: NodeProcess | null = null;
  const apps: (AppProcess | null)[] = [null, null];
  const person = { name: "Ines Instance", email: `${unique("ines")}@example.test`, password: "instance-password-123" };
  let cookie = "";
  let orgId = "";

  const start = async (i: number) => (apps[i] = await startAppProcess({ port: ports[i], dataDir: dataDirs[i], env: { ...shared, DATABASE_URL: cluster!.url } }));
  const call = (i: number, kind: "query" | "mutation", procedure: string, input: unknown, as = cookie) => trpcData(apps[i]!.url, kind, procedure, input, { cookie: as });

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    if (!cluster) throw new Error("PostgreSQL binaries are needed for this test");
    await applyMigrations(cluster.url);
    db = createPrismaClient(cluster.url);
    // One object store for both, as one S3 bucket serves a deployment: a model uploaded through one
    // instance is downloaded by a node through the other.
    const s3Port = await freePort();
    s3 = new S3rver({ port: s3Port, address: "127.0.0.1", directory: s3Dir, silent: true, configureBuckets: [{ name: "hearth" }] });
    await s3.run();
    Object.assign(shared, { HEARTH_S3_BUCKET: "hearth", HEARTH_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`, HEARTH_S3_ACCESS_KEY_ID: "S3RVER", HEARTH_S3_SECRET_ACCESS_KEY: "S3RVER" });
    ports.push(await freePort(), await freePort());
    await Promise.all([start(0), start(1)]);
    proxy = await startRoundRobinProxy(ports.map((port) => ({ host: "127.0.0.1", port })));
    await trpcHttp(apps[0]!.url, "mutation", "user.signUp", person);
    cookie = await signInOverHttp(apps[1]!.url, person.email, person.password);
    orgId = (await call(0, "mutation", "org.create", { name: unique("Instances") })).id;
  }, 300_000);
  afterAll(async () => {
    await node?.kill("SIGKILL");
    await proxy?.close();
    await Promise.allSettled(apps.map((app) => app?.stop()));
    await db?.$disconnect();
    await s3?.close();
    await cluster?.stop();
    for (const dir of [...dataDirs, s3Dir]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("delivers a change made through instance 1 to a live feed on instance 2, and resumes a feed across a restart", async () => {
    const feed = subscribe(apps[1]!.url, "audit.live", { orgId }, cookie);
    // The feed is live once a change shows; make changes through instance 1 until one does.
    await until(async () => {
      await call(0, "mutation", "project.create", { orgId, name: unique("live") });
      return feed.events.length > 0;
    }, "an audit event from instance 1 on instance 2");
    const first = feed.events.at(-1)!;
    expect(first.data).toMatchObject({ action: "project.create" });
    expect(first.id).toMatch(/^\d+$/);
    await feed.close();

    // Instance 2 restarts; meanwhile two projects are made through instance 1.
    expect(await apps[1]!.stop()).toBe(0);
    const missed = [unique("missed-a"), unique("missed-b")];
    for (const name of missed) await call(0, "mutation", "project.create", { orgId, name });
    await start(1);
    // The browser reconnects with the last id it saw (tRPC puts it in the input as lastEventId).
    const resumed = subscribe(apps[1]!.url, "audit.live", { orgId, lastEventId: first.id }, cookie);
    await until(() => resumed.events.length >= 2, "the missed events");
    await call(0, "mutation", "project.create", { orgId, name: unique("after") });
    await until(() => resumed.events.length >= 3, "a live event after the catch-up");
    await resumed.close();
    const actions = resumed.events.map((e) => (e.data as { action: string }).action);
    expect(actions.slice(0, 3)).toEqual(["project.create", "project.create", "project.create"]);
    const ids = resumed.events.map((e) => BigInt(e.id!));
    expect(ids.every((id, i) => id > BigInt(first.id!) && (i === 0 || id > ids[i - 1]))).toBe(true);
  });

  it("delivers a run's metric points and status changes made through instance 1 to live subscriptions on instance 2", async () => {
    const project = await call(0, "mutation", "project.create", { orgId, name: unique("runs") });
    const user = await db!.user.findUniqueOrThrow({ where: { email: person.email }, select: { id: true } });
    // A run in the browser, as the training page starts one: it reports its own points and status.
    const run = await db!.run.create({ data: { projectId: project.id, kind: "PRETRAIN", target: "BROWSER", status: "RUNNING", createdById: user.id }, select: { id: true } });
    const metrics = subscribe(apps[1]!.url, "run.liveMetrics", { runId: run.id }, cookie);
    const shell = subscribe(apps[1]!.url, "live.watch", { projectId: project.id }, cookie);
    let step = 0;
    await until(async () => {
      await call(0, "mutation", "run.logMetrics", { runId: run.id, points: [{ name: "loss", step: ++step, value: 3 / step }] });
      return metrics.events.length > 0;
    }, "a metric point from instance 1 on instance 2");
    await call(0, "mutation", "run.transition", { runId: run.id, status: "SUCCEEDED" });
    await until(() => shell.events.some((e) => (e.data as { status?: string }).status === "SUCCEEDED"), "the run's end on instance 2");
    await Promise.all([metrics.close(), shell.close()]);
    const points = metrics.events.flatMap((e) => e.data as { step: number }[]);
    expect(points.map((p) => p.step)).toEqual(Array.from({ length: points.length }, (_, i) => points[0].step + i));
    expect(shell.events.at(-1)!.data).toEqual({ type: "run", runId: run.id, status: "SUCCEEDED", kind: "PRETRAIN", target: "BROWSER" });
  });

  it("ends a session on both instances when it signs out through one, and counts failed sign-ins across both", async () => {
    const other = await signInOverHttp(apps[0]!.url, person.email, person.password);
    expect((await trpcHttp(apps[1]!.url, "query", "org.list", {}, { cookie: other })).status).toBe(200);
    await signOutOverHttp(apps[0]!.url, other);
    expect((await trpcHttp(apps[1]!.url, "query", "org.list", {}, { cookie: other })).status).toBe(401);

    // Five wrong passwords, alternating instances (three on instance 1, two on instance 2), reach the
    // account's limit of 5: counted per instance neither would have, counted across both the fifth
    // starts a block (1 s at first), and the right password is refused at once.
    const victim = { name: "Vera", email: `${unique("vera")}@example.test`, password: "vera-password-1234" };
    await trpcHttp(apps[0]!.url, "mutation", "user.signUp", victim);
    for (let i = 0; i < 5; i++) await expect(signInOverHttp(apps[i % 2]!.url, victim.email, "wrong-password-000")).rejects.toThrow(/failed/);
    await expect(signInOverHttp(apps[0]!.url, victim.email, victim.password)).rejects.toThrow(/failed/);
    // Once the block has passed, the right password works again (on either instance).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await expect(signInOverHttp(apps[1]!.url, victim.email, victim.password)).resolves.toContain("session-token=");
  });

  describe("serving across instances", () => {
    let key = "";
    let projectId = "";
    let modelName = "";
    const via = (baseUrl: string) => new OpenAI({ apiKey: key, baseURL: `${baseUrl}/v1`, maxRetries: 0 });
    const cancellations = () => node!.output().match(/completion \S+ cancelled after \d+ of \d+ tokens/g) ?? [];

    beforeAll(async () => {
      const project = await call(0, "mutation", "project.create", { orgId, name: unique("serving") });
      projectId = project.id;
      const model = await call(0, "mutation", "model.create", { projectId, name: "assistant" });
      modelName = `${project.slug}/assistant`;
      key = (await call(0, "mutation", "apiKey.create", { orgId, name: "relay", scopes: ["models:invoke", "models:write"] })).secret;
      const upload = await fetch(`${apps[0]!.url}/api/models/${model.id}/versions`, { method: "POST", headers: { authorization: `Bearer ${key}` }, body: Buffer.from(tinyCheckpoint(7)) });
      expect(upload.status).toBe(201);
      const { secret } = await call(0, "mutation", "node.createToken", { orgId, name: "relay node" });
      node = startNodeProcess({ serverUrl: apps[1]!.url, token: secret, name: "relay-node" });
      // Instance 2 holds the node's inference socket, and says so in the database for instance 1.
      await until(async () => (await db!.gpuNode.findFirst({ where: { orgId }, select: { servingInstance: { select: { relayUrl: true } } } }))?.servingInstance?.relayUrl === `http://127.0.0.1:${ports[1]}`, "the node connecting to instance 2", 120_000);
      // The Nodes page, through either instance, says which instance holds it.
      expect((await call(0, "query", "node.list", { orgId })).nodes.map((n: { servingVia: string | null }) => n.servingVia)).toEqual([`127.0.0.1:${ports[1]}`]);
    }, 180_000);

    it("answers a chat completion sent to instance 1 with the node connected only to instance 2, streamed; hanging up stops the node's generation", async () => {
      // The relay path answers only a peer instance holding the deployment's key.
      const nodeId = (await db!.gpuNode.findFirstOrThrow({ where: { orgId } })).id;
      const forged = await fetch(`${apps[1]!.url}/api/internal/relay/complete`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-hearth-relay-time": String(Date.now()), "x-hearth-relay-nonce": randomUUID(), "x-hearth-relay-signature": "0".repeat(64) },
        body: JSON.stringify({ nodeId, request: { modelVersionId: "x", orgId, prompt: "hi", maxTokens: 4, temperature: 0, stop: [] } }),
      });
      expect(forged.status).toBe(401);
      expect(await forged.text()).toMatch(/same HEARTH_SECRET_KEY/);

      const messages = [{ role: "user" as const, content: "can i get a refund after forty days?" }];
      const stream = await via(apps[0]!.url).chat.completions.create({ model: modelName, messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      const pieces = chunks.flatMap((c) => (c.choices[0]?.delta?.content ? [c.choices[0].delta.content] : []));
      expect(pieces.length).toBeGreaterThan(1);
      expect(chunks[0].model).toBe(`${modelName}:v1`);
      // What the node answers instance 2 directly, for the same greedy request.
      const direct = await via(apps[1]!.url).chat.completions.create({ model: modelName, messages, max_tokens: 24, temperature: 0 });
      expect(pieces.join("")).toBe(direct.choices[0].message.content);
      expect(chunks.at(-1)!.usage).toEqual(direct.usage);

      // A long generation through instance 1, hung up after three pieces: the node stops early.
      const long = await via(apps[0]!.url).completions.create({ model: modelName, prompt: "the refund window", max_tokens: 4000, temperature: 0, stream: true });
      let received = 0;
      for await (const chunk of long) if (chunk.choices[0]?.text && ++received === 3) long.controller.abort();
      expect(received).toBe(3);
      await until(() => cancellations().length === 1, "the node cancelling the generation", 30_000);
      expect(Number(/cancelled after (\d+) of 4000/.exec(cancellations()[0]!)![1])).toBeLessThan(4000);
    }, 120_000);

    it("drains a stream relayed through instance 1 when it is stopped (SIGTERM): the answer completes, then instance 1 exits cleanly", async () => {
      const request = { model: modelName, prompt: "a parcel that never arrived", max_tokens: 300, temperature: 0 } as const;
      const stream = await via(apps[0]!.url).completions.create({ ...request, stream: true });
      let text = "";
      let finish: string | null = null;
      let stopping: Promise<number | null> | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.text ?? "";
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (text && !stopping) stopping = apps[0]!.stop();
      }
      expect(await stopping).toBe(0);
      expect(finish).toBe("length");
      // The whole answer: what the node gives instance 2 directly for the same greedy request.
      expect(text).toBe((await via(apps[1]!.url).completions.create(request)).choices[0].text);
      await start(0);
    }, 120_000);

    it("killing instance 1 mid-stream fails the stream and stops the node; nothing is recorded; the next request through the proxy reaches instance 2; a node's disconnect is in the database at once", async () => {
      await call(1, "mutation", "servedLog.configure", { projectId, enabled: true, retentionDays: 1 });
      const stream = await via(apps[0]!.url).completions.create({ model: modelName, prompt: "a refund after forty days", max_tokens: 4000, temperature: 0, stream: true });
      let received = 0;
      const failure = await (async () => {
        try {
          for await (const chunk of stream) if (chunk.choices[0]?.text && ++received === 3) void apps[0]!.kill("SIGKILL");
          return null;
        } catch (error) {
          return error as Error;
        }
      })();
      expect(received).toBeGreaterThanOrEqual(3);
      expect(failure).toBeInstanceOf(Error); // the connection is gone: never a stream that just ends early
      await until(() => cancellations().length === 2, "the node cancelling the orphaned generation", 30_000);

      // The proxy skips the dead instance; instance 2 answers with its own node.
      const answer = await via(proxy!.url).completions.create({ model: modelName, prompt: "a refund after forty days", max_tokens: 8, temperature: 0 });
      expect(answer.choices[0].text.length).toBeGreaterThan(0);
      expect(proxy!.served.at(-1)).toBe(1);
      await until(async () => (await db!.servedRequest.count({ where: { projectId } })) > 0, "the served request being kept", 10_000);
      const kept = await db!.servedRequest.findMany({ where: { projectId }, select: { output: true } });
      expect(kept).toEqual([{ output: answer.choices[0].text }]);

      // The node dies: its row no longer names an instance, so no instance relays to it.
      await node!.kill("SIGKILL");
      await until(async () => (await db!.gpuNode.findFirstOrThrow({ where: { orgId } })).servingInstanceId === null, "the node's disconnect recorded", 10_000);
      const refused = await via(apps[1]!.url).completions.create({ model: modelName, prompt: "hello", max_tokens: 4 }).then(
        () => null,
        (error: unknown) => error as InstanceType<typeof OpenAI.APIError>,
      );
      expect(refused?.status).toBe(503);
    }, 120_000);
  });
});
