// Two Hearth instances on one PostgreSQL, as a deployment behind a load balancer runs them (#26): a change
// made through instance 1 reaches a live subscription (server-sent events) on instance 2; a subscriber of a
// restarted instance 2 resumes from the last event id it saw and gets what it missed; signing out through
// instance 1 ends the session on instance 2; failed sign-ins count across both.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "@/server/db/migrate";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { signInOverHttp, trpcHttp } from "../support/http";
import { freePort, startPostgresCluster, type PostgresCluster } from "../support/postgres";
import { unique } from "../support/fixtures";

interface SseEvent {
  id: string | null;
  data: unknown;
}

/** A live subscription over HTTP as the browser holds one: the tRPC procedure's server-sent events, parsed. */
function subscribe(baseUrl: string, procedure: string, input: unknown, cookie: string) {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  const done = (async () => {
    const response = await fetch(`${baseUrl}/api/trpc/${procedure}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, {
      headers: { cookie, accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (!response.ok || !response.body) throw new Error(`${procedure}: HTTP ${response.status}`);
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split("\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trimStart());
        }
        // tRPC's own events (connected, ping) carry an event name; data events have none.
        if (fields.has("event") || !fields.has("data")) continue;
        events.push({ id: fields.get("id") ?? null, data: (JSON.parse(fields.get("data")!) as { json: unknown }).json });
      }
    }
  })().catch((error: unknown) => {
    if (!controller.signal.aborted) throw error;
  });
  return { events, close: () => (controller.abort(), done) };
}

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
  const shared = { NEXTAUTH_SECRET: randomBytes(32).toString("hex"), HEARTH_SECRET_KEY: randomBytes(32).toString("base64"), HEARTH_SEED_DEMO: "0" };
  const ports: number[] = [];
  const apps: (AppProcess | null)[] = [null, null];
  const person = { name: "Ines Instance", email: `${unique("ines")}@example.test`, password: "instance-password-123" };
  let cookie = "";
  let orgId = "";

  const start = async (i: number) => (apps[i] = await startAppProcess({ port: ports[i], dataDir: dataDirs[i], env: { ...shared, DATABASE_URL: cluster!.url } }));
  const call = async (i: number, kind: "query" | "mutation", procedure: string, input: unknown, as = cookie) => {
    const response = await trpcHttp(apps[i]!.url, kind, procedure, input, { cookie: as });
    if (response.status !== 200) throw new Error(`${procedure} on instance ${i + 1}: HTTP ${response.status} ${JSON.stringify(response.body?.error?.json?.message)}`);
    return response.body.result.data.json;
  };

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    if (!cluster) throw new Error("PostgreSQL binaries are needed for this test");
    await applyMigrations(cluster.url);
    ports.push(await freePort(), await freePort());
    await Promise.all([start(0), start(1)]);
    await trpcHttp(apps[0]!.url, "mutation", "user.signUp", person);
    cookie = await signInOverHttp(apps[1]!.url, person.email, person.password);
    orgId = (await call(0, "mutation", "org.create", { name: unique("Instances") })).id;
  }, 300_000);
  afterAll(async () => {
    await Promise.allSettled(apps.map((app) => app?.stop()));
    await cluster?.stop();
    for (const dir of dataDirs) fs.rmSync(dir, { recursive: true, force: true });
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
});
