// Hugging Face folders as model versions: imported file by file over HTTP (resumable, each file
// checked against its sha256), committed as one version only when the folder checks out, given back
// file for file so that transformers loads it. The folder is made by transformers itself.
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { createApiKey } from "@/server/apikeys/service";
import { getArtifactStore } from "@/server/storage";
import { POST as startRoute } from "@/app/api/models/[modelId]/uploads/route";
import { PUT as fileRoute } from "@/app/api/models/[modelId]/uploads/[uploadId]/files/[...path]/route";
import { POST as commitRoute } from "@/app/api/models/[modelId]/uploads/[uploadId]/commit/route";
import { GET as listRoute } from "@/app/api/model-versions/[modelVersionId]/files/route";
import { GET as downloadRoute } from "@/app/api/model-versions/[modelVersionId]/files/[...path]/route";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { copyTinyLlamaFolder, oracleOrSkip, runOracle } from "../support/oracle";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-model-folders-"));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const haveOracle = oracleOrSkip();

type Folder = Map<string, Buffer>;

function readFolder(dir: string): Folder {
  return new Map(fs.readdirSync(dir).sort().map((name) => [name, fs.readFileSync(path.join(dir, name))]));
}

describe.skipIf(!haveOracle).each(TEST_DATABASE_KINDS)("model folders on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let key: string;
  let otherKey: string;
  let folder: Folder;
  const src = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-hf-src-"));

  beforeAll(async () => {
    const opened = await openTestDatabase(kind);
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    key = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("push"), scopes: ["models:write", "models:read"] })).secret;
    const outsider = f.users.outsider;
    const otherModel = await db.model.create({ data: { projectId: (await db.project.create({ data: { orgId: f.otherOrgId, name: "Other", slug: unique("p") } })).id, name: "other", createdById: outsider.userId } });
    otherKey = (await createApiKey(db, outsider, { orgId: f.otherOrgId, name: unique("o"), scopes: ["models:write", "models:read"] })).secret;
    (globalThis as Record<string, unknown>).otherModelId = otherModel.id;
    copyTinyLlamaFolder(src);
    folder = readFolder(src);
  });
  afterAll(async () => close?.());

  const auth = (k = key) => ({ authorization: `Bearer ${k}` });
  const manifest = (files: Folder) => [...files].map(([p, b]) => ({ path: p, sha256: sha256(b), size: b.length }));

  async function start(modelId: string, files: Folder, k = key) {
    const res = await startRoute(new Request("http://h/x", { method: "POST", headers: auth(k), body: JSON.stringify({ files: manifest(files) }) }), { params: Promise.resolve({ modelId }) });
    return { status: res.status, body: await res.json() };
  }
  async function send(modelId: string, uploadId: string, name: string, bytes: Uint8Array, k = key) {
    const res = await fileRoute(new Request("http://h/x", { method: "PUT", headers: auth(k), body: new Uint8Array(bytes) }), { params: Promise.resolve({ modelId, uploadId, path: name.split("/") }) });
    return { status: res.status, body: await res.json() };
  }
  async function commit(modelId: string, uploadId: string) {
    const res = await commitRoute(new Request("http://h/x", { method: "POST", headers: auth() }), { params: Promise.resolve({ modelId, uploadId }) });
    return { status: res.status, body: await res.json() };
  }
  const versionCount = () => db.modelVersion.count({ where: { modelId: f.modelId } });

  it("imports a sharded folder file by file, resumes an interrupted upload, and describes the model", async () => {
    const first = await start(f.modelId, folder);
    expect(first.status).toBe(201);
    expect(first.body.missing.sort()).toEqual([...folder.keys()].sort());
    const names = [...folder.keys()];
    for (const name of names.slice(0, 4)) expect((await send(f.modelId, first.body.uploadId, name, folder.get(name)!)).status).toBe(200);
    // Interrupted: the same folder again finds the same upload, and only the rest is asked for.
    const again = await start(f.modelId, folder);
    expect(again.body.uploadId).toBe(first.body.uploadId);
    expect(again.body.missing.sort()).toEqual(names.slice(4).sort());
    const early = await commit(f.modelId, first.body.uploadId);
    expect(early.status).toBe(409);
    expect(early.body.error.message).toMatch(/have not arrived yet/);
    for (const name of again.body.missing) await send(f.modelId, first.body.uploadId, name, folder.get(name)!);
    const before = await versionCount();
    const done = await commit(f.modelId, first.body.uploadId);
    expect(done.status, JSON.stringify(done.body)).toBe(201);
    expect(await versionCount()).toBe(before + 1);
    expect(done.body.description).toMatchObject({ format: "hf-folder", modelType: "llama", architecture: "LlamaForCausalLM", dtype: "BF16", contextLength: 128, license: "apache-2.0", vocabSize: 320, hasChatTemplate: true, browser: true });
    // embed 320x32 + head 320x32 + norm 32 + 2 layers x (q 32x32, k 16x32, v 16x32, o 32x32, 3 x 64x32, 2 norms of 32)
    expect(done.body.description.parameters).toBe(320 * 32 * 2 + 32 + 2 * (32 * 32 * 2 + 16 * 32 * 2 + 3 * 64 * 32 + 64));
    (globalThis as Record<string, unknown>).versionId = done.body.id;
  });

  it("gives the version back file for file, and transformers loads it with the same logits", async () => {
    const versionId = (globalThis as Record<string, unknown>).versionId as string;
    const list = await (await listRoute(new Request("http://h/x", { headers: auth() }), { params: Promise.resolve({ modelVersionId: versionId }) })).json();
    expect(list.files.map((x: { path: string }) => x.path).sort()).toEqual([...folder.keys()].sort());
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-hf-out-"));
    for (const file of list.files as Array<{ path: string; sha256: string }>) {
      const res = await downloadRoute(new Request("http://h/x", { headers: auth() }), { params: Promise.resolve({ modelVersionId: versionId, path: file.path.split("/") }) });
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(bytes.equals(folder.get(file.path)!), file.path).toBe(true);
      fs.writeFileSync(path.join(out, file.path), bytes);
    }
    const [a, b] = [JSON.parse(runOracle("hf_folder.py", ["logits", src]).stdout), JSON.parse(runOracle("hf_folder.py", ["logits", out]).stdout)];
    expect(b).toEqual(a);
    expect(b.chat).toBe("<s>user:\nHi</s><s>assistant:\n");
  });

  it("asks another organization for the bytes even when the server holds the same file", async () => {
    const other = await start((globalThis as Record<string, unknown>).otherModelId as string, folder, otherKey);
    expect(other.body.missing.sort()).toEqual([...folder.keys()].sort());
  });

  it("refuses a file that does not match its announced hash, storing nothing", async () => {
    const name = "config.json";
    const changed = new Map(folder);
    changed.set(name, Buffer.from(folder.get(name)!.toString().replace('"hidden_size": 32', '"hidden_size": 64')));
    const up = await start(f.modelId, changed);
    const res = await send(f.modelId, up.body.uploadId, name, folder.get(name)!);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/not the .* announced/);
    expect(await getArtifactStore().has(sha256(changed.get(name)!))).toBe(false);
  });

  const refusals: Array<[string, (f: Folder) => Folder, RegExp, "start" | "commit"]> = [
    ["a folder without a tokenizer", (x) => new Map([...x].filter(([n]) => n !== "tokenizer.json")), /no tokenizer\.json/, "start"],
    ["a folder without weights", (x) => new Map([...x].filter(([n]) => !n.endsWith(".safetensors") && !n.endsWith(".index.json"))), /has no weights/, "start"],
    ["a missing shard", (x) => new Map([...x].filter(([n]) => n !== "model-00002-of-00004.safetensors")), /names the shard model-00002-of-00004\.safetensors/, "commit"],
    ["a truncated shard", (x) => new Map([...x].map(([n, b]) => [n, n === "model-00003-of-00004.safetensors" ? b.subarray(0, b.length - 100) : b])), /model-00003-of-00004\.safetensors: .*complete/, "commit"],
    ["a tensor whose shape disagrees with the config", (x) => new Map([...x].map(([n, b]) => [n, n === "config.json" ? Buffer.from(b.toString().replace('"intermediate_size": 64', '"intermediate_size": 48')) : b])), /is \[64, 32\] but config\.json needs \[48, 32\]/, "commit"],
    ["an unsupported architecture", (x) => new Map([...x].map(([n, b]) => [n, n === "config.json" ? Buffer.from(b.toString().replace('"model_type": "llama"', '"model_type": "mixtral"')) : b])), /config\.json: .*model_type/, "commit"],
    ["a tokenizer of an unsupported type", (x) => new Map([...x].map(([n, b]) => [n, n === "tokenizer.json" ? Buffer.from(b.toString().replace('"type": "BPE"', '"type": "Unigram"')) : b])), /tokenizer: .*Unigram/, "commit"],
  ];
  it.each(refusals)("refuses %s with a clear message, leaving no version and no files behind", async (_label, change, message, stage) => {
    const bad = change(folder);
    const before = await versionCount();
    const up = await start(f.modelId, bad);
    if (stage === "start") {
      expect(up.status).toBe(400);
      expect(up.body.error.message).toMatch(message);
      return;
    }
    for (const name of up.body.missing) expect((await send(f.modelId, up.body.uploadId, name, bad.get(name)!)).status).toBe(200);
    const res = await commit(f.modelId, up.body.uploadId);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(message);
    expect(await versionCount()).toBe(before);
    expect(await db.modelUpload.count({ where: { id: up.body.uploadId } })).toBe(0);
    // Files only the refused upload held are gone; files a committed version holds stay.
    for (const [, bytes] of bad) {
      const kept = (await db.modelVersionFile.count({ where: { sha256: sha256(bytes) } })) > 0;
      expect(await getArtifactStore().has(sha256(bytes))).toBe(kept);
    }
  });
});
