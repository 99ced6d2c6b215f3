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
import { CLOSE_INVALID_UPDATE } from "@/server/collab/hub";
import { loadStoredState } from "@/server/collab/store";

/** A y-websocket sync "update" message around arbitrary update bytes. */
function updateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // sync
  encoding.writeVarUint(encoder, 2); // update
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
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

  async function createPolicy(draft = ""): Promise<string> {
    const policy = await t.db.policy.create({
      data: { projectId: f.projectId, key: unique("p"), title: "Refunds", draft, createdById: f.users.OWNER.userId },
      select: { id: true },
    });
    return `policy:${policy.id}`;
  }

  function client(docName: string, who: keyof OrgFixture["users"], target = server): TestClient {
    const c = connectClient(target.wsUrl, docName, { cookie: cookies[who] });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    f = await createOrgFixture(t.db);
    for (const [name, user] of Object.entries(f.users)) cookies[name] = await sessionCookie(user.userId);
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
});
