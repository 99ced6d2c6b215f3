// The OpenAI-compatible API end to end, with the official `openai` client as the caller: a tiny model
// trained here with gpu/, registered as a model version with its artifact, served by a real GPU node
// process (`hearth node`, Dawn on SwiftShader) connected to a server on loopback. What the API answers
// must be what the engine produces for the same prompt. Then Hearth evaluates its own served model
// through the endpoint path (target ENDPOINT), as it would anyone else's. Last, a Hugging Face folder
// (a tiny llama over-fitted on one conversation) is served: chats through its template, ending at eos.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { PrismaClient } from "@/server/db/generated/client";
import { requestNodeGpuContext } from "@/gpu/device-node";
import type { GpuContext } from "@/gpu/device";
import { loadGPT } from "@/gpu/io";
import { writeTar } from "@/gpu/io/tar";
import { completeText, loadTextModel } from "@/gpu/nn/text-model";
import { generateText } from "@/gpu/nn/generate";
import { promptOf } from "@/gpu/eval/runner";
import { runTrainJob, type TrainJobSpec } from "@/gpu/train";
import { createApiKey, revokeApiKey } from "@/server/apikeys/service";
import { createModelVersionWithArtifact, storeModelArtifact } from "@/server/models/artifacts";
import { commitFolderUpload, receiveFolderFile, startFolderUpload } from "@/server/models/folders";
import { createNodeToken } from "@/server/node-registry/tokens";
import { CHAT_TURN_STOPS } from "@/server/serving/openai";
import { resolveModel } from "@/server/serving/models";
import { startEndpointRunWorker, type EndpointRunWorker } from "@/server/runs/eval-runner";
import { startServingServer, until, type ServingServer } from "../support/serving";
import { startNodeProcess, type NodeProcess } from "../support/nodes";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { ANSWER, CONVERSATION, QUESTION, tokenizerOf, trainedChatFolder } from "../support/tiny-chat-folder";

const CORPUS = Array.from({ length: 120 }, (_, i) =>
  i % 2 ? "user: can i get a refund after 40 days?\nassistant: no, refunds close after 30 days.\n" : "user: where is my parcel?\nassistant: it ships within two days.\n",
).join("");
const SPEC: TrainJobSpec = { kind: "PRETRAIN", preset: "tiny", steps: 40, batchSize: 8, seqLen: 32, lr: 1e-2, warmupSteps: 4, vocabSize: 300, seed: 3, checkpointEvery: 40 };
const PROMPT = "user: can i get a refund after 40 days?\nassistant:";
const MESSAGES = [{ role: "user" as const, content: "can i get a refund after 40 days?" }];

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-serving-"));
process.env.HEARTH_DATA_DIR = dataDir; // the artifact store the node downloads from

let gpuContext: Promise<GpuContext> | undefined;
const gpu = () => (gpuContext ??= requestNodeGpuContext());

/** The trained checkpoint, and what the engine itself generates for the prompts used below. */
let trained: Promise<{ artifact: Uint8Array; direct: (prompt: string, maxTokens: number, stop: string[]) => Promise<string>; promptTokens: (text: string) => number }> | undefined;
function trainOnce() {
  trained ??= (async () => {
    const ctx = await gpu();
    const result = await runTrainJob(ctx, SPEC, { dataset: new TextEncoder().encode(CORPUS) });
    if (!result.artifact) throw new Error("training produced no artifact");
    const { model, tokenizer } = loadGPT(ctx, result.artifact);
    return {
      artifact: result.artifact,
      direct: async (prompt: string, maxTokens: number, stop: string[]) => (await generateText(model, tokenizer!, prompt, { maxNewTokens: maxTokens, temperature: 0, stop })).text,
      promptTokens: (text: string) => tokenizer!.encode(text).length,
    };
  })();
  return trained;
}

async function apiError(promise: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

describe.each(TEST_DATABASE_KINDS)("the OpenAI-compatible API on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let serving: ServingServer;
  let baseUrl: string;
  let node: NodeProcess;
  let model: Awaited<ReturnType<typeof trainOnce>>;
  let slug: string;
  let otherSlug: string;
  const keys = {} as Record<"project" | "org" | "noScope" | "otherProject" | "otherOrg", string>;
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: baseUrl, maxRetries: 0 });

  /** A model named `name` in `projectId` with one version holding the trained artifact. */
  async function registerModel(projectId: string, name: string) {
    const created = await db.model.create({ data: { projectId, name, createdById: f.users.EDITOR.userId }, select: { id: true, project: { select: { orgId: true } } } });
    const stored = await storeModelArtifact({ db, orgId: created.project.orgId }, Readable.from([Buffer.from(model.artifact)]));
    const { version } = await createModelVersionWithArtifact(db, f.users.EDITOR, created.project.orgId, created.id, { config: { preset: "tiny" }, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    return { modelId: created.id, versionId: version.id };
  }

  beforeAll(async () => {
    model = await trainOnce();
    ({ db, close } = await openTestDatabase(kind, { own: true }));
    f = await createOrgFixture(db);
    const project = await db.project.findUniqueOrThrow({ where: { id: f.projectId }, select: { slug: true } });
    slug = project.slug;
    const assistant = await registerModel(f.projectId, "assistant");
    await db.modelAlias.create({ data: { modelId: assistant.modelId, name: "production", modelVersionId: assistant.versionId } });
    const other = await db.project.create({ data: { orgId: f.orgId, name: "Other", slug: unique("other") }, select: { id: true, slug: true } });
    otherSlug = other.slug;
    await registerModel(other.id, "secret-model");
    const foreign = await db.project.create({ data: { orgId: f.otherOrgId, name: "Foreign", slug: unique("foreign") }, select: { id: true } });
    await registerModel(foreign.id, "foreign-model");

    const key = async (name: keyof typeof keys, orgId: string, scopes: ("models:invoke" | "models:read")[], projectId?: string) => {
      keys[name] = (await createApiKey(db, f.users.OWNER, { orgId, name, scopes, projectId })).secret;
    };
    await key("project", f.orgId, ["models:invoke"], f.projectId);
    await key("org", f.orgId, ["models:invoke"]);
    await key("noScope", f.orgId, ["models:read"], f.projectId);
    await key("otherProject", f.orgId, ["models:invoke"], other.id);
    await key("otherOrg", f.otherOrgId, ["models:invoke"]);

    serving = await startServingServer(db);
    baseUrl = serving.baseUrl;
    const { secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, "serving test");
    node = startNodeProcess({ serverUrl: serving.origin, token: secret, name: `serving-${kind}` });
    await until(() => serving.hub.connectedNodeIds().length === 1, "the node connecting", () => node.output());
  });

  afterAll(async () => {
    await node?.kill("SIGTERM");
    await serving?.close();
    await close?.();
  });

  it("lists the models a key can reach: a project key sees its project only", async () => {
    const projectIds = (await client(keys.project).models.list()).data.map((m) => m.id);
    expect(projectIds).toEqual([`${slug}/assistant:latest`, `${slug}/assistant:production`, `${slug}/assistant:v1`]);
    const orgIds = (await client(keys.org).models.list()).data.map((m) => m.id);
    expect(orgIds).toEqual(expect.arrayContaining([...projectIds, `${otherSlug}/secret-model:latest`]));
    expect(orgIds.some((id) => id.includes("foreign-model"))).toBe(false);
    const retrieved = await client(keys.project).models.retrieve(`${slug}/assistant:production`);
    expect(retrieved).toMatchObject({ id: `${slug}/assistant:v1`, object: "model", owned_by: slug });
  });

  it("resolves model ids: versions, aliases, latest, colons in names, and never a version without a checkpoint", async () => {
    const colon = await registerModel(f.projectId, "support:bot");
    const bare = await db.modelVersion.create({ data: { modelId: colon.modelId, version: 2, config: {}, createdById: f.users.EDITOR.userId }, select: { id: true } });
    await db.modelAlias.create({ data: { modelId: colon.modelId, name: "candidate", modelVersionId: bare.id } });
    const scope = { orgId: f.orgId, projectId: f.projectId };
    const resolved = async (id: string) => (await resolveModel(db, scope, id))?.id ?? null;
    expect(await resolved(`${slug}/support:bot:v1`)).toBe(`${slug}/support:bot:v1`);
    expect(await resolved(`${slug}/support:bot`)).toBe(`${slug}/support:bot:v1`); // latest servable: v2 has no checkpoint
    expect(await resolved(`${slug}/support:bot:latest`)).toBe(`${slug}/support:bot:v1`);
    expect(await resolved(`${slug}/support:bot:v2`)).toBeNull();
    expect(await resolved(`${slug}/support:bot:candidate`)).toBeNull();
    expect(await resolved(`${slug}/assistant`)).toBe(`${slug}/assistant:v1`);
    expect(await resolved(`${slug}/assistant:staging`)).toBeNull();
    expect(await resolved("assistant:v1")).toBeNull();
    expect(await resolveModel(db, { orgId: f.otherOrgId }, `${slug}/assistant:v1`)).toBeNull();
    expect(await resolveModel(db, { orgId: f.orgId }, `${otherSlug}/secret-model:v1`)).not.toBeNull();
    await db.model.delete({ where: { id: colon.modelId } });
  });

  it("answers a completion with what the engine generates, and reports usage", async () => {
    const completion = await client(keys.project).completions.create({ model: `${slug}/assistant:production`, prompt: PROMPT, max_tokens: 12, temperature: 0 });
    const expected = await model.direct(PROMPT, 12, []);
    expect(expected.length).toBeGreaterThan(0);
    expect(completion).toMatchObject({ object: "text_completion", model: `${slug}/assistant:v1`, choices: [{ index: 0, text: expected, finish_reason: "length" }] });
    expect(completion.id).toMatch(/^cmpl-/);
    expect(completion.usage).toEqual({ prompt_tokens: model.promptTokens(PROMPT), completion_tokens: 12, total_tokens: model.promptTokens(PROMPT) + 12 });
    // A stop string cuts the answer where the engine would.
    const stopped = await client(keys.project).completions.create({ model: `${slug}/assistant:v1`, prompt: PROMPT, max_tokens: 12, temperature: 0, stop: [expected.trim().split(" ")[1] ?? "."] });
    expect(stopped.choices[0].text).toBe(await model.direct(PROMPT, 12, [expected.trim().split(" ")[1] ?? "."]));
  });

  it("streams a chat completion piece by piece, the pieces adding up to the engine's answer", async () => {
    const stream = await client(keys.project).chat.completions.create({
      model: `${slug}/assistant:latest`,
      messages: MESSAGES,
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const expected = await model.direct(promptOf(MESSAGES), 16, CHAT_TURN_STOPS);
    const pieces = chunks.flatMap((c) => (c.choices[0]?.delta?.content ? [c.choices[0].delta.content] : []));
    expect(pieces.join("")).toBe(expected);
    expect(pieces.length).toBeGreaterThan(1);
    expect(chunks[0].choices[0].delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === `${slug}/assistant:v1` && c.id === chunks[0].id)).toBe(true);
    const finish = chunks.find((c) => c.choices[0]?.finish_reason);
    expect(["stop", "length"]).toContain(finish!.choices[0].finish_reason);
    const usage = chunks.at(-1)!;
    expect(usage.choices).toEqual([]);
    expect(usage.usage).toMatchObject({ prompt_tokens: model.promptTokens(promptOf(MESSAGES)) });
    expect(usage.usage!.completion_tokens).toBeGreaterThan(0);
    // The same request unstreamed answers the same text.
    const whole = await client(keys.project).chat.completions.create({ model: `${slug}/assistant:latest`, messages: MESSAGES, max_tokens: 16, temperature: 0 });
    expect(whole.choices[0].message).toMatchObject({ role: "assistant", content: expected });
    expect(whole.usage).toEqual(usage.usage);
  });

  it("answers the playground's turn on the node exactly as /v1/chat/completions does, and says when no node can", async () => {
    const { id: versionId } = await db.modelVersion.findFirstOrThrow({ where: { model: { projectId: f.projectId, name: "assistant" } }, select: { id: true } });
    const reply = await callerFor(db, f.users.EDITOR).model.chat({ modelVersionId: versionId, messages: MESSAGES, maxTokens: 16, temperature: 0 });
    const served = await client(keys.project).chat.completions.create({ model: `${slug}/assistant:v1`, messages: MESSAGES, max_tokens: 16, temperature: 0 });
    expect(reply.text).toBe(served.choices[0].message.content);
    expect(reply.text).toBe(await model.direct(promptOf(MESSAGES), 16, CHAT_TURN_STOPS));
    expect(await db.auditLog.count({ where: { action: "model.chat", resourceId: versionId } })).toBe(1);
    // The other organization's model has no node to run on.
    const { id: foreignId } = await db.modelVersion.findFirstOrThrow({ where: { model: { name: "foreign-model", project: { orgId: f.otherOrgId } } }, select: { id: true } });
    const none = await callerFor(db, f.users.outsider).model.chat({ modelVersionId: foreignId, messages: MESSAGES, maxTokens: 4, temperature: 0 }).then(
      () => null,
      (e: Error) => e,
    );
    expect(none?.message).toMatch(/^No GPU node is online to run this model/);
  });

  it("refuses a wrong, revoked or under-scoped key", async () => {
    const wrong = await apiError(client("hth_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").models.list());
    expect([wrong.status, wrong.code, wrong.type]).toEqual([401, "invalid_api_key", "authentication_error"]);
    expect(wrong).toBeInstanceOf(OpenAI.AuthenticationError);
    const anonymous = await fetch(`${baseUrl}/models`);
    expect(anonymous.status).toBe(401);
    expect(((await anonymous.json()) as { error: { code: string } }).error.code).toBe("missing_api_key");
    const underScoped = await apiError(client(keys.noScope).chat.completions.create({ model: `${slug}/assistant:v1`, messages: MESSAGES }));
    expect([underScoped.status, underScoped.code]).toEqual([403, "insufficient_scope"]);
    const { key, secret } = await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: "soon revoked", scopes: ["models:invoke"] });
    expect((await client(secret).models.list()).data.length).toBeGreaterThan(0);
    await revokeApiKey(db, f.users.OWNER, f.orgId, key.id);
    expect((await apiError(client(secret).models.list())).status).toBe(401);
  });

  it("does not reach another project's or organization's model: the same 404 as a model that does not exist", async () => {
    const missing = await apiError(client(keys.project).completions.create({ model: `${slug}/no-such-model:v1`, prompt: "x" }));
    expect([missing.status, missing.code, missing.param]).toEqual([404, "model_not_found", "model"]);
    for (const [key, id] of [
      [keys.project, `${otherSlug}/secret-model:latest`],
      [keys.otherProject, `${slug}/assistant:production`],
      [keys.otherOrg, `${slug}/assistant:v1`],
    ] as const) {
      const refused = await apiError(client(key).chat.completions.create({ model: id, messages: MESSAGES, max_tokens: 4 }));
      expect([refused.status, refused.code]).toEqual([404, "model_not_found"]);
      expect(refused.message).toBe(`404 The model "${id}" does not exist or this key cannot reach it. GET /v1/models lists the models it can call.`);
    }
    // The organization-wide key does reach the other project.
    const reached = await client(keys.org).completions.create({ model: `${otherSlug}/secret-model:latest`, prompt: PROMPT, max_tokens: 2, temperature: 0 });
    expect(reached.choices[0].text).toBe(await model.direct(PROMPT, 2, []));
  });

  it("refuses bad input with the parameter named, and answers 503 when no node of the organization is online", async () => {
    const c = client(keys.project);
    const model = `${slug}/assistant:v1`;
    for (const [request, param, code] of [
      [{ model, prompt: PROMPT, max_tokens: 0 }, "max_tokens", "invalid_value"],
      [{ model, prompt: PROMPT, n: 2 }, "n", "unsupported_parameter"],
      [{ model, prompt: PROMPT, top_p: 0.5 }, "top_p", "unsupported_parameter"],
      [{ model, prompt: ["a", "b"] }, "prompt", "invalid_value"],
    ] as const) {
      const refused = await apiError(c.completions.create(request as never));
      expect([refused.status, refused.param, refused.code], JSON.stringify(request)).toEqual([400, param, code]);
    }
    const empty = await apiError(c.chat.completions.create({ model, messages: [] }));
    expect([empty.status, empty.param]).toEqual([400, "messages"]);
    const tools = await apiError(c.chat.completions.create({ model, messages: MESSAGES, tools: [{ type: "function", function: { name: "f" } }] }));
    expect([tools.status, tools.param]).toEqual([400, "tools"]);
    const notJson = await fetch(`${baseUrl}/completions`, { method: "POST", headers: { authorization: `Bearer ${keys.project}` }, body: "{" });
    expect([notJson.status, ((await notJson.json()) as { error: { code: string } }).error.code]).toEqual([400, "invalid_json"]);

    // The other organization has a servable model but no GPU node.
    const unavailable = await apiError(client(keys.otherOrg).completions.create({ model: (await client(keys.otherOrg).models.list()).data[0].id, prompt: "x", max_tokens: 2 }));
    expect([unavailable.status, unavailable.code]).toEqual([503, "no_node_available"]);
    const streamed = await apiError(client(keys.otherOrg).chat.completions.create({ model: (await client(keys.otherOrg).models.list()).data[0].id, messages: MESSAGES, stream: true }));
    expect(streamed.status).toBe(503);
  });

  describe("evaluating the served model as an endpoint", () => {
    let worker: EndpointRunWorker;
    beforeAll(() => {
      process.env.HEARTH_ENDPOINT_ALLOWLIST = new URL(baseUrl).host;
      worker = startEndpointRunWorker({ db, pollMs: 200 });
    });
    afterAll(async () => {
      await worker?.close();
      delete process.env.HEARTH_ENDPOINT_ALLOWLIST;
    });

    it("runs an eval with target ENDPOINT against Hearth's own serving API, with per-case results", async () => {
      const textAnswer = await model.direct(PROMPT, 12, []);
      const chatAnswer = await model.direct(promptOf(MESSAGES), 12, CHAT_TURN_STOPS);
      const cases = [
        { id: "text-equals", input: PROMPT, graders: [{ type: "equals", value: textAnswer, trim: false }], tags: ["served"], clauses: [] },
        { id: "chat-equals", input: MESSAGES, graders: [{ type: "equals", value: chatAnswer, trim: false }], tags: ["served"], clauses: [] },
        { id: "never", input: PROMPT, graders: [{ type: "contains", values: ["banana split"] }], tags: ["served"], clauses: [] },
      ];
      const suite = await db.evalSuite.create({ data: { projectId: f.projectId, name: unique("served-suite"), draft: cases, createdById: f.users.EDITOR.userId }, select: { id: true } });
      const version = await db.suiteVersion.create({ data: { suiteId: suite.id, version: 1, cases, caseCount: cases.length, sha256: "3".repeat(64), message: "v1", authorId: f.users.EDITOR.userId }, select: { id: true } });
      const endpoint = await callerFor(db, f.users.ADMIN).endpoint.create({ projectId: f.projectId, name: "hearth-itself", baseUrl, model: `${slug}/assistant:production`, apiKey: keys.project, maxConcurrency: 2, timeoutMs: 60_000 });
      const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "ENDPOINT", endpointId: endpoint.id, suiteVersionId: version.id, config: { maxTokens: 12, temperature: 0 } });
      await until(async () => ["SUCCEEDED", "FAILED"].includes((await db.run.findUniqueOrThrow({ where: { id: run.id } })).status), "the endpoint run finishing");
      const done = await db.run.findUniqueOrThrow({ where: { id: run.id } });
      expect([done.status, done.error]).toEqual(["SUCCEEDED", null]);
      const results = await callerFor(db, f.users.VIEWER).run.results({ runId: run.id });
      const byCase = Object.fromEntries(results.items.map((r) => [r.caseId, r]));
      expect(byCase["text-equals"]).toMatchObject({ pass: true, output: textAnswer, promptTokens: model.promptTokens(PROMPT), completionTokens: 12 });
      expect(byCase["chat-equals"]).toMatchObject({ pass: true, output: chatAnswer, promptTokens: model.promptTokens(promptOf(MESSAGES)) });
      expect(byCase.never).toMatchObject({ pass: false, output: textAnswer });
      for (const r of results.items) expect(r.latencyMs, r.caseId).toBeGreaterThan(0);
      expect(done.summary).toMatchObject({ cases: 3, graded: 3, passed: 2, usage: { answered: 3 } });
    });
  });

  describe("a Hugging Face folder version", () => {
    let files: Map<string, Uint8Array>;
    const tokenizer = () => tokenizerOf(files);
    const chatPromptTokens = () => tokenizer().encode(tokenizer().applyChatTemplate(CONVERSATION, { addGenerationPrompt: true }), { addSpecialTokens: false }).length;
    const answerTokens = () => tokenizer().encode(ANSWER, { addSpecialTokens: false }).length + 1; // and </s>

    beforeAll(async () => {
      files = await chatFolderOnce();
    });

    /** What a served folder model must answer: its template's conversation up to eos, streamed and not, with usage. */
    async function servesFolder(id: string) {
      const c = client(keys.project);
      const usage = { prompt_tokens: chatPromptTokens(), completion_tokens: answerTokens(), total_tokens: chatPromptTokens() + answerTokens() };
      const whole = await c.chat.completions.create({ model: id, messages: CONVERSATION, max_tokens: 16, temperature: 0 });
      expect(whole.choices[0]).toMatchObject({ message: { role: "assistant", content: ANSWER }, finish_reason: "stop" });
      expect(whole.usage).toEqual(usage);

      const stream = await c.chat.completions.create({ model: id, messages: CONVERSATION, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
      const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      const pieces = chunks.flatMap((ch) => (ch.choices[0]?.delta?.content ? [ch.choices[0].delta.content] : []));
      expect(pieces.join("")).toBe(ANSWER);
      expect(pieces.length).toBeGreaterThan(1);
      expect(chunks.find((ch) => ch.choices[0]?.finish_reason)!.choices[0].finish_reason).toBe("stop");
      expect(chunks.at(-1)!.usage).toEqual(usage);

      // Another conversation ("developer" as "system") answers what the engine gives for its template.
      const ctx = await gpu();
      const engine = await loadTextModel(ctx, writeTar(files));
      try {
        const expected = await completeText(engine, engine.chatPromptIds([{ role: "system", content: "Be brief." }, ...CONVERSATION]), { maxNewTokens: 6, temperature: 0 });
        const other = await c.chat.completions.create({ model: id, messages: [{ role: "developer", content: "Be brief." }, ...CONVERSATION], max_tokens: 6, temperature: 0 });
        expect(other.choices[0].message.content).toBe(expected.text);
        expect(other.usage!.completion_tokens).toBe(expected.tokens.length);
      } finally {
        engine.release();
      }

      // /v1/completions takes raw text: the same conversation written out answers the same, up to eos.
      const raw = `<s>user: ${QUESTION}</s><s>assistant: `;
      const completion = await c.completions.create({ model: id, prompt: raw, max_tokens: 16, temperature: 0 });
      expect(completion.choices[0]).toMatchObject({ text: ANSWER, finish_reason: "stop" });
      expect(completion.usage).toEqual(usage);
    }

    /** A folder version imported file by file through the folder upload service, as the model page and `hearth model push` do. */
    async function importFolder(name: string): Promise<string> {
      const created = await db.model.create({ data: { projectId: f.projectId, name, createdById: f.users.EDITOR.userId }, select: { id: true } });
      const manifest = [...files].map(([p, b]) => ({ path: p, sha256: createHash("sha256").update(b).digest("hex"), size: b.length }));
      const upload = await startFolderUpload(db, f.users.EDITOR, f.orgId, created.id, { files: manifest, lineage: {} });
      for (const n of upload.missing) await receiveFolderFile(db, f.orgId, created.id, upload.uploadId, n, Readable.from([Buffer.from(files.get(n)!)]));
      const version = await commitFolderUpload(db, f.users.EDITOR, f.orgId, created.id, upload.uploadId);
      expect(version.description).toMatchObject({ format: "hf-folder", hasChatTemplate: true });
      return version.id;
    }

    it("serves an imported folder version (the node reads it as one archive): the template's chat, up to eos", async () => {
      await importFolder("folder-import");
      await servesFolder(`${slug}/folder-import:v1`);
    });

    it("evaluates an imported folder version on the node: chat through the template up to eos, multiple choice by log-likelihood", async () => {
      const versionId = await importFolder("folder-eval");
      const cases = [
        { id: "chat", input: CONVERSATION, graders: [{ type: "equals", value: ANSWER, trim: false }], tags: [], clauses: [] },
        { id: "mc", input: CONVERSATION, choices: ["17.", "42.", "99."], answerIndex: 1, graders: [{ type: "multiple-choice" }], tags: [], clauses: [] },
        { id: "wrong", input: CONVERSATION, graders: [{ type: "contains", values: ["banana"] }], tags: [], clauses: [] },
      ];
      const suite = await db.evalSuite.create({ data: { projectId: f.projectId, name: unique("folder-suite"), draft: cases, createdById: f.users.EDITOR.userId }, select: { id: true } });
      const suiteVersion = await db.suiteVersion.create({ data: { suiteId: suite.id, version: 1, cases, caseCount: cases.length, sha256: "4".repeat(64), message: "v1", authorId: f.users.EDITOR.userId }, select: { id: true } });
      const run = await callerFor(db, f.users.EDITOR).run.create({ projectId: f.projectId, kind: "EVAL", target: "NODE", suiteVersionId: suiteVersion.id, modelVersionId: versionId, config: { maxTokens: 16, temperature: 0 } });
      await until(async () => ["SUCCEEDED", "FAILED"].includes((await db.run.findUniqueOrThrow({ where: { id: run.id } })).status), "the node's eval run finishing", () => node.output());
      const done = await db.run.findUniqueOrThrow({ where: { id: run.id } });
      expect([done.status, done.error]).toEqual(["SUCCEEDED", null]);
      const results = await callerFor(db, f.users.VIEWER).run.results({ runId: run.id });
      const byCase = Object.fromEntries(results.items.map((r) => [r.caseId, r]));
      expect(byCase.chat).toMatchObject({ pass: true, output: ANSWER });
      expect(byCase.mc).toMatchObject({ pass: true });
      expect(byCase.wrong).toMatchObject({ pass: false, output: ANSWER });
    });

  });
});

let chatFolder: Promise<Map<string, Uint8Array>> | undefined;
/** The tiny chat folder's files, trained once for both database kinds. */
function chatFolderOnce() {
  chatFolder ??= gpu().then((ctx) => trainedChatFolder(ctx));
  return chatFolder;
}

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
