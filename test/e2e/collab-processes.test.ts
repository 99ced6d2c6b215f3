// Real server processes: kill -9 during a stream of edits loses nothing the server acknowledged and
// duplicates nothing; two instances on different ports converge through the shared database.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { freePort, startPostgresCluster, type PostgresCluster } from "../support/postgres";
import { connectClient, createCollabFixture, eventually, sessionCookie, type CollabFixture, type TestClient } from "../support/collab";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { startEmbeddedDatabase } from "@/server/db/embedded";
import { applyMigrations } from "@/server/db/migrate";

const SECRET = "collab-e2e-secret-0123456789abcdefghij";
process.env.NEXTAUTH_SECRET = SECRET;

function wsUrl(app: AppProcess): string {
  return `${app.url.replace(/^http/, "ws")}/yjs`;
}

/** Tokens "<n>;" appended one by one; the text must be a sequence of distinct tokens. */
function tokens(text: string): string[] {
  return text.split(";").filter(Boolean);
}

async function crashDuringEdits(start: () => Promise<AppProcess>, docName: string, cookie: string): Promise<void> {
  let app = await start();
  const open: TestClient[] = [];
  try {
    const writer = connectClient(wsUrl(app), docName, { cookie, origin: app.url });
    const observer = connectClient(wsUrl(app), docName, { cookie, origin: app.url });
    open.push(writer, observer);
    await Promise.all([writer.synced(), observer.synced()]);
    const acknowledged = new Set<string>();
    observer.doc.getText("content").observe(() => {
      for (const token of tokens(observer.doc.getText("content").toString())) acknowledged.add(token);
    });
    let n = 0;
    const stream = setInterval(() => {
      const text = writer.doc.getText("content");
      text.insert(text.length, `${++n};`);
    }, 4);
    await eventually(() => acknowledged.size >= 150, "the observer receives edits", 20_000);
    await app.kill("SIGKILL");
    clearInterval(stream);
    // The clients must not resend after the restart: what counts is what the server had acknowledged.
    for (const c of open.splice(0)) c.destroy();
    expect(acknowledged.size).toBeGreaterThan(0);

    app = await start();
    const reader = connectClient(wsUrl(app), docName, { cookie, origin: app.url });
    open.push(reader);
    await reader.synced();
    const after = tokens(reader.doc.getText("content").toString());
    const missing = [...acknowledged].filter((t) => !after.includes(t));
    expect(missing).toEqual([]);
    expect(after.length).toBe(new Set(after).size);
    // Sent edits that were not acknowledged before the crash may be missing; those present are in order.
    expect(after).toEqual([...after].sort((a, b) => Number(a) - Number(b)));
    expect(n).toBeGreaterThanOrEqual(after.length);
  } finally {
    for (const c of open) c.destroy();
    await app.stop();
  }
}

describe("co-editing across server processes on PostgreSQL", () => {
  let cluster: PostgresCluster | null;
  let db: PrismaClient;
  let f: CollabFixture;
  let cookie: string;
  const running: AppProcess[] = [];
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-collab-pg-"));

  async function startOnPostgres(port: number): Promise<AppProcess> {
    const app = await startAppProcess({
      port,
      dataDir,
      env: { DATABASE_URL: cluster!.url, NEXTAUTH_SECRET: SECRET, HEARTH_SEED_DEMO: "0" },
    });
    running.push(app);
    return app;
  }

  beforeAll(async () => {
    cluster = await startPostgresCluster();
    if (!cluster) throw new Error("PostgreSQL binaries are needed for this test");
    await applyMigrations(cluster.url);
    db = createPrismaClient(cluster.url);
    f = await createCollabFixture(db);
    cookie = await sessionCookie(db, f.users.EDITOR.id);
  });
  afterAll(async () => {
    await Promise.allSettled(running.map((app) => app.stop()));
    await db?.$disconnect();
    await cluster?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("keeps every acknowledged edit, once, after kill -9 during a stream of edits", async () => {
    const port = await freePort();
    await crashDuringEdits(() => startOnPostgres(port), await f.createPolicy(), cookie);
  });

  it("converges clients connected to two different instances", async () => {
    const docName = await f.createPolicy("Base.");
    const [a, b] = [await startOnPostgres(await freePort()), await startOnPostgres(await freePort())];
    const clients = [a, a, b, b].map((app) =>
      connectClient(wsUrl(app), docName, { cookie, origin: app.url }),
    );
    try {
      await Promise.all(clients.map((c) => c.synced()));
      for (let round = 0; round < 10; round++) {
        clients.forEach((c, i) => c.doc.getText("content").insert(0, `<${i}.${round}>`));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const length = "Base.".length + clients.reduce((sum, _c, i) => sum + 10 * `<${i}.0>`.length, 0);
      await eventually(() => clients.every((c) => c.doc.getText("content").length === length), "all four clients have every edit", 15_000);
      expect(new Set(clients.map((c) => c.doc.getText("content").toString())).size).toBe(1);
    } finally {
      for (const c of clients) c.destroy();
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe("co-editing on the embedded database (the default install)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-collab-embedded-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("keeps every acknowledged edit, once, after kill -9 of the process that holds the database", async () => {
    const embedded = await startEmbeddedDatabase({ dataDir: path.join(dataDir, "pglite") });
    let docName: string;
    let cookie: string;
    try {
      await applyMigrations(embedded.url);
      const db = createPrismaClient(embedded.url);
      const f = await createCollabFixture(db);
      docName = await f.createPolicy();
      cookie = await sessionCookie(db, f.users.EDITOR.id);
      await db.$disconnect();
    } finally {
      await embedded.stop();
    }
    const port = await freePort();
    await crashDuringEdits(() => startAppProcess({ port, dataDir, env: { NEXTAUTH_SECRET: SECRET, HEARTH_SEED_DEMO: "0" } }), docName!, cookie!);
  });
});
