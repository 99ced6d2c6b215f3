// The /yjs socket endpoint with the real y-websocket client over real sockets, on both databases:
// who may connect, what VIEWERs can do, convergence, durability, compaction and seeding.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { openTestDatabase, TEST_DATABASE_KINDS, type TestDatabase } from "../support/databases";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { connectClient, eventually, sessionCookie, startCollabServer, TEST_ORIGIN, tryUpgrade, type RunningCollabServer, type TestClient } from "../support/collab";
import { compactDocument, readLiveDocument, seedDocumentIfEmpty, listDocumentHistory, parseDocName, caseToMap, readCases } from "@/server/collab";
import { appendUpdates, loadStoredState, replaceSnapshot } from "@/server/collab/store";
import { movedPosition, orderedCaseMaps, POSITION_KEY } from "@/contracts/collab-doc";
import { endUserSessions } from "@/server/auth/sessions";
import { createPolicyDocument } from "../support/collab";

describe.each(TEST_DATABASE_KINDS)("co-editing over /yjs on %s", (kind) => {
  let t: TestDatabase;
  let f: OrgFixture;
  let server: RunningCollabServer;
  const clients: TestClient[] = [];
  const cookies: Record<string, string> = {};

  const createPolicy = (draft = "") => createPolicyDocument(t.db, f, draft);

  async function createSuite(draft: unknown[] = []): Promise<string> {
    const suite = await t.db.evalSuite.create({
      data: { projectId: f.projectId, name: unique("suite"), draft: draft as object[], createdById: f.users.OWNER.userId },
      select: { id: true },
    });
    return `suite:${suite.id}`;
  }

  function client(docName: string, who: keyof OrgFixture["users"], target = server): TestClient {
    const c = connectClient(target.wsUrl, docName, { cookie: cookies[who] });
    clients.push(c);
    return c;
  }

  async function storedText(docName: string): Promise<string> {
    const doc = new Y.Doc();
    for (const update of (await loadStoredState(t.db, docName)).updates) Y.applyUpdate(doc, update);
    return doc.getText("content").toString();
  }

  beforeAll(async () => {
    t = await openTestDatabase(kind);
    f = await createOrgFixture(t.db);
    for (const [name, user] of Object.entries(f.users)) cookies[name] = await sessionCookie(t.db, user.userId);
    server = await startCollabServer({ db: () => t.db, accessRecheckMs: 300, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await server?.close();
    await t?.close();
  });

  it("lets many clients edit one policy concurrently and converge", async () => {
    const docName = await createPolicy();
    const editors = Array.from({ length: 8 }, (_, i) => client(docName, i % 2 ? "EDITOR" : "ADMIN"));
    await Promise.all(editors.map((c) => c.synced()));
    for (let round = 0; round < 5; round++) {
      editors.forEach((c, i) => c.doc.getText("content").insert(0, `[${i}.${round}]`));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const expectedLength = editors.reduce((n, _c, i) => n + 5 * `[${i}.0]`.length, 0);
    await eventually(() => editors.every((c) => c.doc.getText("content").length === expectedLength), "all clients converge");
    const texts = new Set(editors.map((c) => c.doc.getText("content").toString()));
    expect(texts.size).toBe(1);
    await eventually(async () => (await storedText(docName)) === [...texts][0], "the database holds the converged text");
    expect((await readLiveDocument(docName, t.db))?.text).toBe([...texts][0]);
  });

  it("keeps concurrent edits to different cells of one case, and concurrent adds", async () => {
    const docName = await createSuite([{ id: "c1", input: "What is 2+2?", expected: "4", tags: ["math"] }]);
    const [a, b] = [client(docName, "EDITOR"), client(docName, "ADMIN")];
    await Promise.all([a.synced(), b.synced()]);
    expect(readCases(a.doc)).toEqual([{ id: "c1", input: "What is 2+2?", expected: "4", tags: ["math"] }]);
    a.doc.getArray<Y.Map<unknown>>("cases").get(0).set("input", "What is 2 + 2?");
    b.doc.getArray<Y.Map<unknown>>("cases").get(0).set("expected", "four");
    a.doc.getArray<Y.Map<unknown>>("cases").push([caseToMap({ id: "c2", input: "a" }, 1)]);
    b.doc.getArray<Y.Map<unknown>>("cases").push([caseToMap({ id: "c3", input: "b" }, 2)]);
    await eventually(() => a.doc.getArray("cases").length === 3 && b.doc.getArray("cases").length === 3, "both see three cases");
    await eventually(() => JSON.stringify(readCases(a.doc)) === JSON.stringify(readCases(b.doc)), "both converge");
    expect(readCases(a.doc)[0]).toMatchObject({ input: "What is 2 + 2?", expected: "four" });
    await eventually(async () => (await readLiveDocument(docName, t.db))?.cases?.length === 3, "the server's copy has three cases");
  });

  it("reorders cases concurrently without duplicating a case or losing an edit made to it meanwhile", async () => {
    const docName = await createSuite(["c1", "c2", "c3", "c4"].map((id) => ({ id, input: id })));
    const [a, b] = [client(docName, "EDITOR"), client(docName, "ADMIN")];
    await Promise.all([a.synced(), b.synced()]);
    const ids = (c: typeof a) => readCases(c.doc).map((x) => x.id);
    expect(ids(a)).toEqual(["c1", "c2", "c3", "c4"]);
    // a moves c3 up; b moves the same c3 down and edits its input, all at once.
    const move = (c: typeof a, id: string, delta: -1 | 1) => {
      const ordered = orderedCaseMaps(c.doc.getArray<Y.Map<unknown>>("cases"));
      const index = ordered.findIndex((m) => m.get("id") === id);
      ordered[index].set(POSITION_KEY, movedPosition(ordered, index, delta)!);
      return ordered[index];
    };
    move(a, "c3", -1);
    move(b, "c3", 1).set("input", "edited while moving");
    move(a, "c1", 1);
    await eventually(() => JSON.stringify(readCases(a.doc)) === JSON.stringify(readCases(b.doc)), "both converge");
    const order = ids(a);
    expect([...order].sort()).toEqual(["c1", "c2", "c3", "c4"]);
    expect(readCases(a.doc).find((x) => x.id === "c3")).toMatchObject({ input: "edited while moving" });
    await eventually(async () => JSON.stringify((await readLiveDocument(docName, t.db))?.cases?.map((x) => x.id)) === JSON.stringify(order), "the server's copy has the same order");
  });

  it("refuses a client with no session, an outsider, an unknown document and a foreign Origin before any data", async () => {
    const docName = await createPolicy("secret clause");
    const url = `${server.wsUrl}/${docName}`;
    expect(await tryUpgrade(url, { origin: TEST_ORIGIN })).toEqual({ status: 401 });
    expect(await tryUpgrade(url, { origin: TEST_ORIGIN, cookie: "next-auth.session-token=forged" })).toEqual({ status: 401 });
    expect(await tryUpgrade(url, { origin: TEST_ORIGIN, cookie: cookies.outsider })).toEqual({ status: 404 });
    expect(await tryUpgrade(`${server.wsUrl}/policy:${unique("missing")}`, { origin: TEST_ORIGIN, cookie: cookies.EDITOR })).toEqual({ status: 404 });
    expect(await tryUpgrade(url, { origin: "https://evil.example", cookie: cookies.EDITOR })).toEqual({ status: 403 });
    expect(await tryUpgrade(url, { cookie: cookies.EDITOR })).toEqual({ status: 403 });
    expect(await tryUpgrade(url, { origin: TEST_ORIGIN, cookie: cookies.EDITOR })).toEqual({ status: "open" });
  });

  it("refuses the real client of another organization: it never receives the document", async () => {
    const docName = await createPolicy("internal refund rules");
    const outsider = client(docName, "outsider");
    await new Promise((resolve) => setTimeout(resolve, 800));
    expect(outsider.provider.wsconnected).toBe(false);
    expect(outsider.doc.getText("content").toString()).toBe("");
  });

  it("shows a VIEWER the document, tells it it is read-only, and neither applies nor stores its updates", async () => {
    const docName = await createPolicy("Refunds within 30 days.");
    const editor = client(docName, "EDITOR");
    const viewer = client(docName, "VIEWER");
    await Promise.all([editor.synced(), viewer.synced()]);
    expect(viewer.doc.getText("content").toString()).toBe("Refunds within 30 days.");
    await eventually(() => viewer.authMessages.includes("read-only"), "the viewer is told it is read-only");
    const before = (await loadStoredState(t.db, docName)).maxId;
    viewer.doc.getText("content").insert(0, "VIEWER WAS HERE ");
    editor.doc.getText("content").insert(0, "Note: ");
    await eventually(() => viewer.doc.getText("content").toString().includes("Note: "), "the viewer sees the editor's edit");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(editor.doc.getText("content").toString()).toBe("Note: Refunds within 30 days.");
    const stored = await t.db.collabUpdate.findMany({ where: { docName, id: { gt: before } }, select: { userId: true } });
    expect(stored.map((s) => s.userId)).toEqual([f.users.EDITOR.userId]);
    expect(await storedText(docName)).toBe("Note: Refunds within 30 days.");
  });

  it("closes the connection of a member removed while connected", async () => {
    const docName = await createPolicy("x");
    const user = await t.db.user.create({ data: { email: `${unique("leaver")}@example.test`, name: "Leaver" }, select: { id: true } });
    const membership = await t.db.membership.create({ data: { orgId: f.orgId, userId: user.id, role: "EDITOR" }, select: { id: true } });
    cookies.leaver = await sessionCookie(t.db, user.id);
    const leaver = client(docName, "leaver" as "EDITOR");
    await leaver.synced();
    await t.db.membership.delete({ where: { id: membership.id } });
    await eventually(() => leaver.closeEvents.some((e) => e.code === 4403), "the server closes the socket with 4403", 5_000);
    leaver.doc.getText("content").insert(0, "too late");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedText(docName)).toBe("x");
  });

  it("closes an open socket when its sign-in session is ended (sign out everywhere)", async () => {
    const docName = await createPolicy("y");
    const user = await t.db.user.create({ data: { email: `${unique("signout")}@example.test`, name: "Signs Out" }, select: { id: true } });
    await t.db.membership.create({ data: { orgId: f.orgId, userId: user.id, role: "EDITOR" } });
    cookies.signsOut = await sessionCookie(t.db, user.id);
    const editor = client(docName, "signsOut" as "EDITOR");
    await editor.synced();
    expect(await endUserSessions(t.db, user.id)).toBe(1);
    await eventually(() => editor.closeEvents.some((e) => e.code === 4403), "the server closes the socket with 4403", 5_000);
    editor.doc.getText("content").insert(0, "after sign-out ");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await storedText(docName)).toBe("y");
  });

  it("seeds a document from its draft exactly once, across instances racing and restarts", async () => {
    const docName = await createPolicy("# Policy\n\nClause 1.");
    const other = await startCollabServer({ db: () => t.db });
    try {
      const [a, b] = [client(docName, "EDITOR"), client(docName, "EDITOR", other)];
      await Promise.all([a.synced(), b.synced()]);
      await eventually(() => a.doc.getText("content").toString() === b.doc.getText("content").toString(), "converge");
      expect(a.doc.getText("content").toString()).toBe("# Policy\n\nClause 1.");
    } finally {
      await other.close();
    }
    expect(await seedDocumentIfEmpty(docName, { text: "again" }, t.db)).toBe(false);
    const racing = await createPolicy("once");
    const results = await Promise.all([1, 2, 3].map(() => seedDocumentIfEmpty(racing, undefined, t.db)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await readLiveDocument(racing, t.db))?.text).toBe("once");
  });

  it("compacts the log into a snapshot, mirrors the draft, and loads the same content after", async () => {
    const docName = await createPolicy("start");
    const a = client(docName, "EDITOR");
    await a.synced();
    for (let i = 0; i < 20; i++) a.doc.getText("content").insert(a.doc.getText("content").length, ` ${i}`);
    const expected = a.doc.getText("content").toString();
    await eventually(async () => (await storedText(docName)) === expected, "all stored");
    const result = await compactDocument(t.db, docName);
    expect(result.compacted).toBe(true);
    expect(await t.db.collabUpdate.count({ where: { docName } })).toBe(0);
    expect((await t.db.policy.findUniqueOrThrow({ where: { id: docName.slice(7) }, select: { draft: true } })).draft).toBe(expected);
    a.doc.getText("content").insert(0, "after ");
    await eventually(async () => (await storedText(docName)) === `after ${expected}`, "later updates follow the snapshot");
    const fresh = client(docName, "ADMIN");
    await fresh.synced();
    expect(fresh.doc.getText("content").toString()).toBe(`after ${expected}`);
    expect((await compactDocument(t.db, docName)).compacted).toBe(true);
    expect((await readLiveDocument(docName, t.db))?.text).toBe(`after ${expected}`);
  });

  it("compacts from its own copy: deletes only rows it applied and that are old enough, and loads the same content", async () => {
    const docName = await createPolicy("start");
    const hub = await startCollabServer({ db: () => t.db, pollIntervalMs: 100, compactAfterUpdates: 10, foldAfterMs: 0 });
    try {
      const a = client(docName, "EDITOR", hub);
      await a.synced();
      for (let i = 0; i < 25; i++) a.doc.getText("content").insert(a.doc.getText("content").length, ` ${i}`);
      const expected = a.doc.getText("content").toString();
      await eventually(async () => (await storedText(docName)) === expected, "all stored");
      await eventually(async () => (await t.db.collabSnapshot.findUnique({ where: { docName } })) !== null, "a snapshot was written");
      await eventually(async () => (await t.db.collabUpdate.count({ where: { docName } })) < 25, "folded rows were deleted");
      // Everything deleted from the log is in the snapshot: the stored state is still the whole text.
      expect(await storedText(docName)).toBe(expected);
      const fresh = client(docName, "ADMIN", hub);
      await fresh.synced();
      expect(fresh.doc.getText("content").toString()).toBe(expected);
    } finally {
      await hub.close();
    }
    // Closing compacts once more: the whole text is in the snapshot, and the draft mirrors it.
    const final = await t.db.collabSnapshot.findUniqueOrThrow({ where: { docName } });
    const doc = new Y.Doc();
    Y.applyUpdate(doc, final.state);
    expect(doc.getText("content").toString()).toBe(await storedText(docName));
    expect((await t.db.policy.findUniqueOrThrow({ where: { id: docName.slice(7) }, select: { draft: true } })).draft).toBe(doc.getText("content").toString());
  });

  it("keeps rows younger than foldAfterMs in the log (in the snapshot too) without duplicating text", async () => {
    const docName = await createPolicy("");
    const hub = await startCollabServer({ db: () => t.db, pollIntervalMs: 100, compactAfterUpdates: 5, foldAfterMs: 60_000 });
    try {
      const a = client(docName, "EDITOR", hub);
      await a.synced();
      for (let i = 0; i < 12; i++) a.doc.getText("content").insert(a.doc.getText("content").length, `<${i}>`);
      const expected = a.doc.getText("content").toString();
      await eventually(async () => (await t.db.collabSnapshot.findUnique({ where: { docName } })) !== null, "a snapshot was written");
      await eventually(async () => (await storedText(docName)) === expected, "all stored");
      expect(await t.db.collabUpdate.count({ where: { docName } })).toBeGreaterThanOrEqual(12);
      expect((await readLiveDocument(docName, t.db))?.text).toBe(expected);
    } finally {
      await hub.close();
    }
  });

  it("loads a row whose id is below the snapshot's version (it committed after a compaction read the log)", async () => {
    const docName = await createPolicy("");
    const writer = new Y.Doc();
    writer.getText("content").insert(0, "late ");
    const [lateId] = await appendUpdates(t.db, docName, [{ update: Y.encodeStateAsUpdate(writer), userId: null }]);
    const other = new Y.Doc();
    other.getText("content").insert(0, "folded");
    const [foldedId] = await appendUpdates(t.db, docName, [{ update: Y.encodeStateAsUpdate(other), userId: null }]);
    // A snapshot that holds only the later row, as a compaction that could not yet see the earlier one writes it.
    const replaced = await replaceSnapshot(t.db, docName, { snapshot: Y.encodeStateAsUpdate(other), content: { text: "folded" }, expectedThroughId: 0n, foldIds: [foldedId] });
    expect(replaced?.throughId).toBeGreaterThan(lateId);
    expect(replaced?.deleted).toEqual([foldedId]);
    const text = (await readLiveDocument(docName, t.db))?.text ?? "";
    expect(text).toContain("late ");
    expect(text).toContain("folded");
    // A replacement built on an outdated version is refused.
    expect(await replaceSnapshot(t.db, docName, { snapshot: new Uint8Array([0, 0]), content: { text: "" }, expectedThroughId: 0n, foldIds: [lateId] })).toBeNull();
    expect(await t.db.collabUpdate.count({ where: { docName, id: lateId } })).toBe(1);
  });

  it("after another instance folded rows it never saw, catches up from the database, relays them, and compacts without losing either's edits", async () => {
    const docName = await createPolicy("shared ");
    // A does not poll during the test: B's rows reach it only through its compaction catching up.
    const a = await startCollabServer({ db: () => t.db, pollIntervalMs: 600_000, compactAfterUpdates: 1_000_000, foldAfterMs: 0 });
    const b = await startCollabServer({ db: () => t.db, pollIntervalMs: 100, compactAfterUpdates: 1_000_000, foldAfterMs: 0 });
    try {
      const onA = client(docName, "EDITOR", a);
      const onB = client(docName, "ADMIN", b);
      await Promise.all([onA.synced(), onB.synced()]);
      onA.doc.getText("content").insert(0, "A1 ");
      onB.doc.getText("content").insert(0, "B1 ");
      await eventually(() => onB.doc.getText("content").toString().includes("A1"), "B polled A's edit");
      // B folds and deletes every row, B1's included, which A never applied.
      await b.server.compactNow(docName);
      expect(await t.db.collabUpdate.count({ where: { docName } })).toBe(0);
      expect(onA.doc.getText("content").toString()).not.toContain("B1");
      onA.doc.getText("content").insert(0, "A2 ");
      await eventually(async () => (await storedText(docName)).includes("A2"), "A2 stored");
      await a.server.compactNow(docName);
      await eventually(() => onA.doc.getText("content").toString().includes("B1"), "A relayed the edit it had missed");
      const text = onA.doc.getText("content").toString();
      for (const word of ["A1", "B1", "A2", "shared"]) expect(text).toContain(word);
      expect(text).toHaveLength("A1 B1 A2 shared ".length);
      expect(await storedText(docName)).toBe(text);
      expect(await t.db.collabUpdate.count({ where: { docName } })).toBe(0);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("relays a burst of presence changes as a few messages carrying each client's latest state", async () => {
    const docName = await createPolicy("presence");
    const [a, b] = [client(docName, "EDITOR"), client(docName, "ADMIN")];
    await Promise.all([a.synced(), b.synced()]);
    a.provider.awareness.setLocalStateField("user", { name: "Ann" });
    await eventually(() => [...b.provider.awareness.getStates().values()].some((s) => (s as { user?: { name: string } }).user?.name === "Ann"), "B sees A");
    let received = 0;
    const handle = b.provider.messageHandlers[1];
    b.provider.messageHandlers[1] = (...args) => {
      received++;
      handle(...args);
    };
    // A cursor moving with every keystroke: 20 changes at once.
    for (let i = 0; i < 20; i++) a.provider.awareness.setLocalStateField("cursor", i);
    const cursorOfA = () => (b.provider.awareness.getStates().get(a.doc.clientID) as { cursor?: number } | undefined)?.cursor;
    await eventually(() => cursorOfA() === 19, "B sees A's last cursor");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(10);
  });

  it("never serves or stores an empty document when loading fails", async () => {
    const docName = await createPolicy("precious");
    const broken = await startCollabServer({
      db: () =>
        new Proxy(t.db, {
          get(target, prop, receiver) {
            if (prop === "$queryRaw") return () => Promise.reject(new Error("database unavailable"));
            return Reflect.get(target, prop, receiver);
          },
        }),
    });
    try {
      const c = client(docName, "EDITOR", broken);
      await eventually(() => c.closeEvents.some((e) => e.code === 1011), "the server closes the socket", 5_000);
      expect(c.provider.synced).toBe(false);
      c.destroy();
    } finally {
      await broken.close();
    }
    expect((await readLiveDocument(docName, t.db))?.text).toBe("precious");
  });

  it("records each editing session in the document's history", async () => {
    const docName = await createPolicy("h");
    const c = connectClient(server.wsUrl, docName, { cookie: cookies.EDITOR });
    await c.synced();
    c.doc.getText("content").insert(0, "edited ");
    await eventually(async () => (await storedText(docName)) === "edited h", "stored");
    c.destroy();
    const sessions = async () => (await listDocumentHistory(t.db, parseDocName(docName)!)).filter((entry) => entry.kind === "session");
    await eventually(async () => (await sessions()).length === 1, "the session is recorded");
    const [session] = await sessions();
    expect(session).toMatchObject({ who: { id: f.users.EDITOR.userId }, updates: 1, role: "EDITOR" });
  });
});
