// The served-request log and "Make a case" (#20), end to end: the official `openai` client calls /v1,
// a real GPU node process (`hearth node`) answers with a tiny checkpoint. With the project's log off
// nothing is kept; an ADMIN turns it on and each request is kept with its prompt, output and model
// version (and sampled into a review queue); the sweep deletes what is past the retention. A kept
// request then becomes a case in the suite's live document, seen by a connected editor without reload.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { PrismaClient } from "@/server/db/generated/client";
import { createApiKey } from "@/server/apikeys/service";
import { getArtifactStore } from "@/server/storage";
import { sweepServedRequests } from "@/server/serving/request-log";
import { readCases, suiteCases } from "@/contracts/collab-doc";
import { callerFor, createOrgFixture, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";
import { startServingServer, until, type ServingServer } from "../support/serving";
import { startNodeProcess, tinyCheckpoint, type NodeProcess } from "../support/nodes";
import { connectClient, eventually, sessionCookie, startCollabServer, type RunningCollabServer } from "../support/collab";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-served-log-"));
process.env.HEARTH_DATA_DIR = dataDir; // the artifact store the node downloads from

describe("the served-request log and Make a case", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let serving: ServingServer;
  let node: NodeProcess;
  let collab: RunningCollabServer;
  let client: OpenAI;
  let modelId: string;
  let modelVersionId: string;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase("postgres"));
    f = await createOrgFixture(db);
    const bytes = tinyCheckpoint(4);
    const file = path.join(dataDir, "model.safetensors");
    fs.writeFileSync(file, bytes);
    const digest = createHash("sha256").update(bytes).digest("hex");
    await getArtifactStore().putFile(file, digest);
    const model = await db.model.create({ data: { projectId: f.projectId, name: "support", createdById: f.users.OWNER.userId }, select: { id: true } });
    modelVersionId = (await db.modelVersion.create({ data: { modelId: model.id, version: 1, config: {}, artifactSha256: digest, sizeBytes: BigInt(bytes.length), createdById: f.users.OWNER.userId } })).id;
    const { slug } = await db.project.findUniqueOrThrow({ where: { id: f.projectId }, select: { slug: true } });
    modelId = `${slug}/support:v1`;

    serving = await startServingServer(db);
    const { secret: nodeSecret } = await callerFor(db, f.users.ADMIN).node.createToken({ orgId: f.orgId, name: "served-log" });
    node = startNodeProcess({ serverUrl: serving.origin, token: nodeSecret, name: "served-log-node" });
    await node.waitFor(/registered with/);
    await until(() => serving.hub.connectedNodeIds().length === 1, "the node opens its inference socket", () => node.output());
    const { secret } = await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: "served", scopes: ["models:invoke"], projectId: f.projectId });
    client = new OpenAI({ apiKey: secret, baseURL: serving.baseUrl, maxRetries: 0 });
    collab = await startCollabServer({ db: () => db, pollIntervalMs: 100 });
  });
  afterAll(async () => {
    await node?.kill("SIGKILL");
    await serving?.close();
    await collab?.close();
    await close?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const kept = () => db.servedRequest.findMany({ where: { projectId: f.projectId, id: { not: f.servedRequestId } }, orderBy: { createdAt: "asc" } });

  it("keeps nothing while the project's log is off (the default)", async () => {
    expect((await callerFor(db, f.users.VIEWER).servedLog.settings({ projectId: f.projectId })).enabled).toBe(false);
    const answer = await client.completions.create({ model: modelId, prompt: "the refund window", max_tokens: 6, temperature: 0 });
    expect(answer.choices[0].text.length).toBeGreaterThan(0);
    expect(await kept()).toEqual([]);
  });

  it("keeps each request's prompt, output and model version once an ADMIN turns the log on, and samples it into a queue", async () => {
    await callerFor(db, f.users.ADMIN).servedLog.configure({ projectId: f.projectId, enabled: true, retentionDays: 7 });
    const queue = await callerFor(db, f.users.ADMIN).review.create({ projectId: f.projectId, name: "served sample", scoreSchema: { pass: true }, servedSampleRate: 1 });
    const messages = [{ role: "user" as const, content: "a refund after forty days?" }];
    const chat = await client.chat.completions.create({ model: modelId, messages, max_tokens: 6, temperature: 0 });
    const stream = await client.completions.create({ model: modelId, prompt: "the refund", max_tokens: 5, temperature: 0, stream: true });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? "";
    await until(async () => (await kept()).length === 2, "both requests are kept");
    const [chatRow, streamRow] = await kept();
    expect(chatRow).toMatchObject({ kind: "chat", model: modelId, modelVersionId, output: chat.choices[0].message.content, prompt: JSON.stringify(messages) });
    expect(streamRow).toMatchObject({ kind: "completion", prompt: "the refund", output: streamed });
    const listed = await callerFor(db, f.users.VIEWER).servedLog.list({ projectId: f.projectId });
    expect(listed.map((r) => r.id)).toEqual(expect.arrayContaining([chatRow.id, streamRow.id]));
    const sampled = await db.reviewItem.findMany({ where: { queueId: queue.id }, orderBy: { position: "asc" }, select: { source: true, sourceId: true, output: true, modelVersionId: true } });
    expect(sampled).toEqual([
      { source: "SERVED_REQUEST", sourceId: chatRow.id, output: chatRow.output, modelVersionId },
      { source: "SERVED_REQUEST", sourceId: streamRow.id, output: streamed, modelVersionId },
    ]);
    const audit = await db.auditLog.findFirstOrThrow({ where: { action: "serving.log.configure", resourceId: f.projectId } });
    expect(audit.after).toEqual({ servedLogEnabled: true, servedLogRetentionDays: 7 });
  });

  it("deletes what is older than the project's retention, and nothing younger", async () => {
    const [old, young] = await kept();
    await db.$executeRaw`UPDATE "ServedRequest" SET "createdAt" = now() - interval '8 days' WHERE id = ${old.id}`;
    await db.$executeRaw`UPDATE "ServedRequest" SET "createdAt" = now() - interval '6 days' WHERE id = ${young.id}`;
    expect(await sweepServedRequests(db)).toBeGreaterThanOrEqual(1);
    expect((await kept()).map((r) => r.id)).toEqual([young.id]);
    await callerFor(db, f.users.ADMIN).servedLog.configure({ projectId: f.projectId, retentionDays: 5 });
    await sweepServedRequests(db);
    expect(await kept()).toEqual([]);
  });

  it("turns a served request into a case in the suite's live draft, which a connected editor sees without reload, with its provenance", async () => {
    await client.completions.create({ model: modelId, prompt: "can i get a refund after forty days?", max_tokens: 6, temperature: 0 });
    await until(async () => (await kept()).length === 1, "the request is kept");
    const [served] = await kept();
    const editorDoc = connectClient(collab.wsUrl, `suite:${f.suiteId}`, { cookie: await sessionCookie(db, f.users.VIEWER.userId) });
    try {
      await editorDoc.synced();
      const before = readCases(editorDoc.doc).length;
      const editor = callerFor(db, f.users.EDITOR);
      const start = await editor.suite.caseSource({ suiteId: f.suiteId, source: { kind: "served", servedRequestId: served.id } });
      expect(start).toEqual({ input: "can i get a refund after forty days?", output: served.output, modelVersionId });
      const made = await editor.suite.makeCase({
        suiteId: f.suiteId,
        source: { kind: "served", servedRequestId: served.id },
        case: { id: "incident-refund-40", input: start!.input, expected: "No: refunds close after 30 days.", graders: [{ type: "contains", values: ["30 days"] }], clauses: ["c-refund-window"], tags: ["incident"] },
      });
      expect(made.caseId).toBe("incident-refund-40");
      await eventually(() => suiteCases(editorDoc.doc).length === before + 1, "the connected editor receives the new case", 15_000);
      const added = readCases(editorDoc.doc).at(-1)!;
      expect(added).toMatchObject({ id: "incident-refund-40", input: "can i get a refund after forty days?", expected: "No: refunds close after 30 days.", clauses: ["c-refund-window"], tags: ["incident"] });
      expect((added.metadata as { provenance: Record<string, unknown> }).provenance).toMatchObject({
        from: "served-request",
        sourceId: served.id,
        modelVersionId,
        actualOutput: served.output,
        by: f.users.EDITOR.email,
      });
      // The case is part of the draft a publish validates.
      await editor.suite.publish({ suiteId: f.suiteId, message: "regression case from an incident" });
      const audit = await db.auditLog.findFirstOrThrow({ where: { action: "suite.case.make", resourceId: f.suiteId } });
      expect(audit.after).toMatchObject({ caseId: "incident-refund-40", provenance: { from: "served-request", sourceId: served.id } });
    } finally {
      editorDoc.destroy();
    }
  });

  it("refuses a served request of another project, and makes a case from pasted text with the pasted output as provenance", async () => {
    const other = await createOrgFixture(db);
    const editor = callerFor(db, f.users.EDITOR);
    await expect(editor.suite.caseSource({ suiteId: f.suiteId, source: { kind: "served", servedRequestId: other.servedRequestId } })).rejects.toThrow(/not found in this project/);
    const made = await editor.suite.makeCase({
      suiteId: f.suiteId,
      source: { kind: "text" },
      case: { input: "Pasted from a support ticket", expected: "Escalate", graders: [{ type: "contains", values: ["escalate"] }] },
      actualOutput: "<i>ignored the customer</i>",
    });
    expect(made.provenance).toMatchObject({ from: "pasted-text", sourceId: null, actualOutput: "<i>ignored the customer</i>" });
  });
});
