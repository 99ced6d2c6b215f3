// What one editor can do to the co-editing server with hostile updates: malformed bytes in a valid
// envelope, oversized updates and floods. Each offender is closed with a stated code, nothing invalid
// or over the limits is stored, and everyone else keeps editing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import * as Y from "yjs";
import * as encoding from "lib0/encoding";
import { openTestDatabase, TEST_DATABASE_KINDS, type TestDatabase } from "../support/databases";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { connectClient, eventually, sessionCookie, startCollabServer, TEST_ORIGIN, type RunningCollabServer, type TestClient } from "../support/collab";
import { readLiveDocument } from "@/server/collab";
import { CLOSE_INVALID_UPDATE, CLOSE_LOG_FULL, CLOSE_RATE_LIMITED, CLOSE_UPDATE_TOO_LARGE, type CollabLimits } from "@/server/collab/hub";
import { loadStoredState } from "@/server/collab/store";
import { createPolicyDocument } from "../support/collab";

/** A y-websocket sync "update" message around arbitrary update bytes. */
function updateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // sync
  encoding.writeVarUint(encoder, 2); // update
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

/** A valid update inserting `chars` characters, from a fresh client (every one is new to the server). */
function insertUpdate(chars: number): Uint8Array {
  const doc = new Y.Doc();
  doc.getText("content").insert(0, "x".repeat(chars));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

/** The close code within `ms`, or "open". */
function closedWithin(raw: { closed: Promise<{ code: number }> }, ms = 5_000): Promise<number | "open"> {
  return Promise.race([raw.closed.then((c) => c.code), new Promise<"open">((resolve) => setTimeout(() => resolve("open"), ms))]);
}

/** A raw socket (no Yjs client): resolves once the server's first message (sync step 1) arrived. */
async function rawSocket(url: string, cookie: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url, { headers: { cookie, origin: TEST_ORIGIN } });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on("error", () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once("message", () => resolve());
    ws.once("close", () => reject(new Error("closed before the first message")));
  });
  return { ws, closed };
}

describe.each(TEST_DATABASE_KINDS)("hostile co-editing updates on %s", (kind) => {
  let t: TestDatabase;
  let f: OrgFixture;
  let server: RunningCollabServer;
  const clients: TestClient[] = [];
  const cookies: Record<string, string> = {};

  const createPolicy = (draft = "") => createPolicyDocument(t.db, f, draft);

  function client(docName: string, who: keyof OrgFixture["users"], target = server): TestClient {
    const c = connectClient(target.wsUrl, docName, { cookie: cookies[who] });
    clients.push(c);
    return c;
  }

  async function storedLogBytes(docName: string): Promise<number> {
    const rows = await t.db.$queryRaw<{ bytes: bigint }[]>`
      SELECT COALESCE(SUM(octet_length("update")), 0)::bigint AS bytes FROM "CollabUpdate" WHERE "docName" = ${docName}`;
    return Number(rows[0].bytes);
  }

  /** Samples the document's stored log while `work` runs; returns the largest size seen. */
  async function peakLogBytesDuring(docName: string, work: () => Promise<void>): Promise<number> {
    let peak = 0;
    let running = true;
    const sampler = (async () => {
      while (running) {
        peak = Math.max(peak, await storedLogBytes(docName));
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      await work();
    } finally {
      running = false;
      await sampler;
    }
    return Math.max(peak, await storedLogBytes(docName));
  }

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    f = await createOrgFixture(t.db);
    for (const [name, user] of Object.entries(f.users)) cookies[name] = await sessionCookie(t.db, user.userId);
    server = await startCollabServer({ db: () => t.db, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.close();
    await t?.close();
  });

  it("refuses a malformed update in a valid envelope before storing it, closes its sender, and keeps serving the document", async () => {
    const docName = await createPolicy("Refunds within 30 days.");
    const editor = client(docName, "ADMIN");
    await editor.synced();
    const before = await t.db.collabUpdate.count({ where: { docName } });
    // A valid one-item update whose content reference (the item's info byte) is corrupted.
    const valid = new Y.Doc();
    valid.getText("content").insert(0, "hi");
    const bad = Y.encodeStateAsUpdate(valid);
    bad[4] = 0x1f;
    expect(() => Y.decodeUpdate(bad)).toThrow();
    const raw = await rawSocket(`${server.wsUrl}/${docName}`, cookies.EDITOR);
    raw.ws.send(updateMessage(bad));
    expect((await raw.closed).code).toBe(CLOSE_INVALID_UPDATE);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await t.db.collabUpdate.count({ where: { docName } })).toBe(before);
    // The document still loads and syncs, for readers of the database and for new sockets.
    expect((await readLiveDocument(docName, t.db))?.text).toBe("Refunds within 30 days.");
    const fresh = client(docName, "EDITOR");
    await fresh.synced();
    expect(fresh.doc.getText("content").toString()).toBe("Refunds within 30 days.");
    editor.doc.getText("content").insert(0, "Note: ");
    await eventually(() => fresh.doc.getText("content").toString() === "Note: Refunds within 30 days.", "edits keep arriving");
    const stored = new Y.Doc();
    for (const update of (await loadStoredState(t.db, docName)).updates) Y.applyUpdate(stored, update);
    expect(stored.getText("content").toString()).toBe("Note: Refunds within 30 days.");
  });

  // The probe: twelve valid 15 MB updates over 4 sockets from one EDITOR. Scaled down: limits of
  // 32 KiB an update, 10 updates and 64 KiB a second per connection, 256 KiB of log per document.
  const limits: Partial<CollabLimits> = { maxUpdateBytes: 32 * 1024, maxUpdatesPerSecond: 10, maxBytesPerSecond: 64 * 1024, maxLogBytes: 256 * 1024 };

  it("closes an editor flooding with oversized updates and bursts, keeps the log under its limit, and relays everyone else's edits", async () => {
    const hub = await startCollabServer({ db: () => t.db, pollIntervalMs: 100, foldAfterMs: 0, limits });
    try {
      const docName = await createPolicy("start");
      const [writer, reader] = [client(docName, "ADMIN", hub), client(docName, "VIEWER", hub)];
      await Promise.all([writer.synced(), reader.synced()]);
      const url = `${hub.wsUrl}/${docName}`;
      const peak = await peakLogBytesDuring(docName, async () => {
        const [justOver, huge, burst, ...steady] = await Promise.all([1, 2, 3, 4, 5, 6].map(() => rawSocket(url, cookies.EDITOR)));
        justOver.ws.send(updateMessage(insertUpdate(32 * 1024 + 1)));
        huge.ws.send(updateMessage(insertUpdate(512 * 1024)));
        for (let i = 0; i < 40; i++) burst.ws.send(updateMessage(insertUpdate(1024)));
        // Within each connection's rate, but together over the document's log.
        for (const s of steady) for (let i = 0; i < 15; i++) s.ws.send(updateMessage(insertUpdate(8 * 1024)));
        // Meanwhile an honest editor's edit reaches the others.
        writer.doc.getText("content").insert(0, "honest ");
        expect(await closedWithin(justOver)).toBe(CLOSE_UPDATE_TOO_LARGE);
        expect(await closedWithin(huge)).toBe(1009); // ws maxPayload: the message is never buffered whole
        expect(await closedWithin(burst)).toBe(CLOSE_RATE_LIMITED);
        await eventually(() => reader.doc.getText("content").toString().startsWith("honest "), "the honest edit arrives during the flood");
        for (const s of steady) s.ws.terminate();
      });
      expect(peak).toBeLessThanOrEqual(limits.maxLogBytes!);
      // Nothing over the update limit was stored, and later edits still arrive.
      const rows = await t.db.collabUpdate.findMany({ where: { docName }, select: { update: true } });
      for (const row of rows) expect(row.update.byteLength).toBeLessThanOrEqual(limits.maxUpdateBytes!);
      writer.doc.getText("content").insert(0, "after ");
      await eventually(() => reader.doc.getText("content").toString().startsWith("after honest "), "edits after the flood arrive");
    } finally {
      await hub.close();
    }
  });

  it("refuses updates that would take a document's stored log over its limit (4503): the stored log never exceeds it", async () => {
    const hub = await startCollabServer({ db: () => t.db, pollIntervalMs: 100, foldAfterMs: 60_000, limits: { ...limits, maxLogBytes: 64 * 1024 } });
    try {
      const docName = await createPolicy("");
      const url = `${hub.wsUrl}/${docName}`;
      const sockets = await Promise.all([1, 2].map(() => rawSocket(url, cookies.EDITOR)));
      const peak = await peakLogBytesDuring(docName, async () => {
        for (const s of sockets) for (let i = 0; i < 6; i++) s.ws.send(updateMessage(insertUpdate(8 * 1024)));
        const codes = await Promise.all(sockets.map((s) => closedWithin(s, 3_000)));
        expect(codes).toContain(CLOSE_LOG_FULL);
      });
      expect(peak).toBeLessThanOrEqual(64 * 1024);
      expect(peak).toBeGreaterThan(32 * 1024);
    } finally {
      await hub.close();
    }
  });
});
