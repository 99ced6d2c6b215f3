// `hearth model push` and `hearth model pull` (bin/hearth.mjs), the real CLI as a child process, against
// the real upload and download route handlers behind a plain HTTP server: a sharded folder that
// transformers wrote is pushed, the push is interrupted part way (the server holds one file's
// request and the CLI is killed), pushed again (it resumes, sending only what had not arrived) and
// becomes exactly one version; pulled back byte for byte, and transformers loads what was pulled.
// The errors a person meets first (no key, not a model folder, someone else's model, an unknown
// version) exit 2 with a message that says what is wrong.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFolderFiles } from "@/gpu/io/folder-node";
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
import { copyTinyLlamaFolder, OracleServer, oracleOrSkip, runOracle } from "../support/oracle";

process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-model-cli-"));
const root = path.resolve(import.meta.dirname, "../..");
const haveOracle = oracleOrSkip();
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const tempDir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix));

type Folder = Map<string, Buffer>;

const readFolder = (dir: string): Folder => readFolderFiles(dir);

/** The tiny sharded llama folder (transformers' save_pretrained) and transformers' logits for it, made once. */
let source: { dir: string; folder: Folder; logits: number[][] } | undefined;
const IDS = { ids: [[0, 86, 84]] };
let torch: OracleServer | undefined;
async function forward(dir: string): Promise<number[][]> {
  torch ??= new OracleServer("hf_folder.py", ["serve"]);
  return (await torch.request<{ logits: number[][] }>({ dir, ...IDS })).logits;
}
afterAll(() => torch?.close());
async function sourceFolder() {
  if (!source) {
    const dir = path.join(tempDir("hearth-cli-src-"), "tiny-llama");
    copyTinyLlamaFolder(dir);
    source = { dir, folder: readFolder(dir), logits: await forward(dir) };
  }
  return source;
}

type Handler = (req: Request, m: RegExpExecArray) => Promise<Response>;
const param = <T,>(value: T) => ({ params: Promise.resolve(value) });
/** The routes the CLI calls, as Next mounts them (catch-all segments left as they came in the URL). */
const ROUTES: Array<[string, RegExp, Handler]> = [
  ["POST", /^\/api\/models\/([^/]+)\/uploads$/, (req, m) => startRoute(req, param({ modelId: decodeURIComponent(m[1]) }))],
  ["PUT", /^\/api\/models\/([^/]+)\/uploads\/([^/]+)\/files\/(.+)$/, (req, m) => fileRoute(req, param({ modelId: decodeURIComponent(m[1]), uploadId: decodeURIComponent(m[2]), path: m[3].split("/") }))],
  ["POST", /^\/api\/models\/([^/]+)\/uploads\/([^/]+)\/commit$/, (req, m) => commitRoute(req, param({ modelId: decodeURIComponent(m[1]), uploadId: decodeURIComponent(m[2]) }))],
  ["GET", /^\/api\/model-versions\/([^/]+)\/files$/, (req, m) => listRoute(req, param({ modelVersionId: decodeURIComponent(m[1]) }))],
  ["GET", /^\/api\/model-versions\/([^/]+)\/files\/(.+)$/, (req, m) => downloadRoute(req, param({ modelVersionId: decodeURIComponent(m[1]), path: m[2].split("/") }))],
];

interface CliServer {
  url: string;
  /** Every request as "METHOD /path", in order. */
  requests: string[];
  /**
   * Holds (never answers) the next file PUT once `files` file PUTs have been answered; resolves
   * when one is held. `release()` ends the held request.
   */
  holdAfter(files: number): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

async function startCliServer(): Promise<CliServer> {
  const requests: string[] = [];
  let answeredPuts = 0;
  let hold: { after: number; held: () => void } | null = null;
  let heldResponse: http.ServerResponse | null = null;
  const server = http.createServer(async (req, res) => {
    const pathname = new URL(req.url!, "http://localhost").pathname;
    requests.push(`${req.method} ${pathname}`);
    const route = ROUTES.map(([method, re, handler]) => [method === req.method ? re.exec(pathname) : null, handler] as const).find(([m]) => m);
    if (!route) return void res.writeHead(404).end();
    const isPut = req.method === "PUT";
    if (isPut && hold && answeredPuts >= hold.after) {
      // The file is on its way and will never arrive: the CLI is killed while it waits.
      heldResponse = res;
      req.resume();
      hold.held();
      hold = null;
      return;
    }
    try {
      const body = req.method === "GET" || req.method === "HEAD" ? undefined : (Readable.toWeb(req) as ReadableStream);
      const request = new Request(`http://127.0.0.1${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body, duplex: "half" } as RequestInit);
      const response = await route[1](request, route[0]!);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of Readable.fromWeb(response.body as never)) res.write(chunk);
      res.end();
      if (isPut && response.ok) answeredPuts++;
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    holdAfter: (files) => new Promise<void>((held) => (hold = { after: answeredPuts + files, held })),
    release() {
      heldResponse?.destroy();
      heldResponse = null;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Cli {
  child: ChildProcess;
  result: Promise<{ status: number | null; signal: NodeJS.Signals | null; out: string }>;
}

/** `node bin/hearth.mjs model ...`, with HEARTH_API_KEY set to key (or unset). */
function cli(args: string[], o: { key?: string; url?: string }): Cli {
  const env = { ...process.env };
  delete env.HEARTH_API_KEY;
  delete env.HEARTH_URL;
  if (o.key) env.HEARTH_API_KEY = o.key;
  if (o.url) env.HEARTH_URL = o.url;
  const child = spawn(process.execPath, [path.join(root, "bin", "hearth.mjs"), "model", ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (chunk) => (out += chunk));
  child.stderr!.on("data", (chunk) => (out += chunk));
  return { child, result: new Promise((resolve) => child.on("close", (status, signal) => resolve({ status, signal, out }))) };
}
const run = (args: string[], o: { key?: string; url?: string }) => cli(args, o).result;

describe.skipIf(!haveOracle).each(TEST_DATABASE_KINDS)("hearth model push and pull on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let server: CliServer;
  let key: string;
  let readKey: string;
  let otherModelId: string;
  /** The version the interrupted and resumed push created. */
  let versionId: string;

  beforeAll(async () => {
    await sourceFolder();
    const opened = await openTestDatabase(kind);
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    key = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("push"), scopes: ["models:write", "models:read"] })).secret;
    readKey = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("pull"), scopes: ["models:read"] })).secret;
    const otherProject = await db.project.create({ data: { orgId: f.otherOrgId, name: "Other", slug: unique("p") } });
    otherModelId = (await db.model.create({ data: { projectId: otherProject.id, name: "theirs", createdById: f.users.outsider.userId } })).id;
    server = await startCliServer();
  });
  afterAll(async () => {
    await server?.close();
    await close?.();
  });

  const uploadsOfModel = () => db.modelUpload.findMany({ where: { modelId: f.modelId }, select: { id: true, received: true } });
  const versionCount = () => db.modelVersion.count({ where: { modelId: f.modelId } });

  it("resumes an interrupted push, sending only the files that had not arrived, and creates one version equal to the folder", async () => {
    const { dir, folder } = await sourceFolder();
    const names = [...folder.keys()];
    expect(names.filter((n) => n.endsWith(".safetensors"))).toHaveLength(4);
    const before = await versionCount();

    // Two files arrive, the third is held on the way, and the CLI is killed while it waits.
    const held = server.holdAfter(2);
    const first = cli(["push", dir, "--model", f.modelId, "--url", server.url], { key });
    await Promise.race([held, first.result.then((r) => Promise.reject(new Error(`the push ended before it was interrupted:\n${r.out}`)))]);
    first.child.kill("SIGKILL");
    const killed = await first.result;
    server.release();
    expect(killed.signal).toBe("SIGKILL");
    expect(killed.out).toContain(`Hashing ${names.length} files`);
    const [interrupted] = await uploadsOfModel();
    expect(interrupted.received).toHaveLength(2);
    expect(await versionCount()).toBe(before);

    // Again: the same upload, only the rest is sent.
    const sentBefore = server.requests.length;
    const second = await run(["push", dir, "--model", f.modelId, "--url", server.url], { key });
    expect(second.status, second.out).toBe(0);
    const rest = names.filter((n) => !interrupted.received.includes(n));
    expect(second.out).toContain(`2 file(s) already on the server; sending ${rest.length}.`);
    const puts = server.requests.slice(sentBefore).filter((r) => r.startsWith("PUT "));
    expect(puts.map((r) => decodeURIComponent(r.split("/files/")[1])).sort()).toEqual([...rest].sort());
    expect(puts.every((r) => r.includes(`/uploads/${interrupted.id}/files/`))).toBe(true);
    const summary = /Model version v(\d+) \((\w+)\): LlamaForCausalLM, ([\d,]+) parameters, BF16, context 128, license apache-2\.0\./.exec(second.out);
    expect(summary, second.out).not.toBeNull();
    versionId = summary![2];

    // Exactly one version, whose files are the folder's, byte for byte.
    expect(await versionCount()).toBe(before + 1);
    expect(await uploadsOfModel()).toEqual([]);
    const version = await db.modelVersion.findUniqueOrThrow({ where: { id: versionId }, select: { modelId: true, version: true, files: { select: { path: true, sha256: true, sizeBytes: true }, orderBy: { path: "asc" } } } });
    expect(version).toMatchObject({ modelId: f.modelId, version: Number(summary![1]) });
    expect(version.files.map((x) => [x.path, x.sha256, Number(x.sizeBytes)])).toEqual([...folder].map(([n, b]) => [n, sha256(b), b.length]));
    for (const [name, bytes] of folder) {
      const stored = Buffer.concat(await (await getArtifactStore().open(sha256(bytes))).toArray());
      expect(stored.equals(bytes), name).toBe(true);
    }
  });

  it("pulls the version back byte for byte, and transformers loads the pulled folder with the same logits", async () => {
    const { folder, logits } = await sourceFolder();
    const out = path.join(tempDir("hearth-cli-pull-"), "pulled");
    const pulled = await run(["pull", versionId, out, "--url", server.url], { key: readKey });
    expect(pulled.status, pulled.out).toBe(0);
    expect(pulled.out).toContain(`Wrote ${folder.size} files to ${out}.`);
    const back = readFolder(out);
    expect([...back.keys()]).toEqual([...folder.keys()]);
    for (const [name, bytes] of folder) expect(back.get(name)!.equals(bytes), name).toBe(true);
    const got = await forward(out);
    expect(got[0]).toHaveLength(320);
    expect(got[0].every(Number.isFinite)).toBe(true);
    expect(got).toEqual(logits);
  });

  it("says what is wrong, with exit status 2: no API key, a folder that is not a model, another organization's model, an unknown version", async () => {
    const { dir, folder } = await sourceFolder();
    const before = await versionCount();

    for (const args of [["push", dir, "--model", f.modelId], ["pull", versionId, tempDir("hearth-cli-nokey-")]]) {
      const noKey = await run([...args, "--url", server.url], {});
      expect(noKey.status, noKey.out).toBe(2);
      expect(noKey.out.trim()).toBe("Set HEARTH_API_KEY to an API key with the models:write (push) or models:read (pull) scope.");
    }

    const noConfig = path.join(tempDir("hearth-cli-noconfig-"), "weights-only");
    fs.mkdirSync(noConfig);
    for (const [name, bytes] of folder) if (name !== "config.json") fs.writeFileSync(path.join(noConfig, name), bytes);
    const notModel = await run(["push", noConfig, "--model", f.modelId, "--url", server.url], { key });
    expect(notModel.status, notModel.out).toBe(2);
    // refused before any file is hashed or sent
    expect(notModel.out).toMatch(/weights-only has no config\.json: choose the model's folder itself/);
    expect(notModel.out).not.toContain("Hashing");
    const missing = await run(["push", path.join(noConfig, "nope"), "--model", f.modelId, "--url", server.url], { key });
    expect([missing.status, missing.out.trim()]).toEqual([2, `${path.join(noConfig, "nope")} does not exist: give the folder save_pretrained wrote.`]);
    const aFile = await run(["push", path.join(noConfig, "tokenizer.json"), "--model", f.modelId, "--url", server.url], { key });
    expect(aFile.status).toBe(2);
    expect(aFile.out).toContain("is a file: give the folder that holds config.json");

    const foreign = await run(["push", dir, "--model", otherModelId, "--url", server.url], { key });
    expect(foreign.status, foreign.out).toBe(2);
    expect(foreign.out).toContain(`Hearth refused POST /api/models/${otherModelId}/uploads (HTTP 404): Model not found.`);
    expect(await db.modelUpload.count({ where: { modelId: otherModelId } })).toBe(0);

    const target = path.join(tempDir("hearth-cli-unknown-"), "never");
    const unknown = await run(["pull", "no-such-version", target, "--url", server.url], { key: readKey });
    expect(unknown.status, unknown.out).toBe(2);
    expect(unknown.out).toContain("Hearth refused GET /api/model-versions/no-such-version/files (HTTP 404): Model version not found.");
    expect(fs.existsSync(target)).toBe(false);

    // A key that may only read cannot push.
    const readOnly = await run(["push", dir, "--model", f.modelId, "--url", server.url], { key: readKey });
    expect(readOnly.status, readOnly.out).toBe(2);
    expect(readOnly.out).toContain(`(HTTP 403): This API key lacks the "models:write" scope.`);

    expect(await versionCount()).toBe(before);
  });
});
