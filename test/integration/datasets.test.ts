// Dataset uploads: streamed, validated with line numbers, size-limited, content-addressed; and the
// artifact stores behind them (files, and S3 against s3rver, a real implementation of the S3 API).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import S3rver from "s3rver";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { uploadDatasetVersion } from "@/server/datasets/service";
import { FileArtifactStore } from "@/server/storage";
import { S3ArtifactStore, signV4 } from "@/server/storage/s3";
import { encode } from "next-auth/jwt";
import { createSession } from "@/server/auth/sessions";
import { POST as uploadRoute } from "@/app/api/datasets/[datasetId]/versions/route";
import { callerFor, createOrgFixture, type OrgFixture } from "../support/fixtures";
import { openTestDatabase, TEST_DATABASE_KINDS } from "../support/databases";
import { refusal } from "../support/refusal";
import { freePort } from "../support/postgres";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const PAIRS = ['{"prompt": "Refund after 40 days?", "response": "No, the window is 30 days."}', '{"prompt": "Hi", "response": "Hello!"}', ""].join("\n");

describe.each(TEST_DATABASE_KINDS)("dataset uploads on %s", (kind) => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let store: FileArtifactStore;
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-artifacts-"));

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase(kind));
    f = await createOrgFixture(db);
    store = new FileArtifactStore(root);
  });
  afterAll(async () => {
    await close?.();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("stores prompt/response pairs content-addressed, with stats and a new version", async () => {
    const version = await uploadDatasetVersion(db, f.users.EDITOR, f.orgId, f.datasetId, Readable.from([Buffer.from(PAIRS.slice(0, 20)), Buffer.from(PAIRS.slice(20))]), { store });
    expect(version).toMatchObject({ version: 1, sha256: sha256(PAIRS), bytes: Buffer.byteLength(PAIRS), lines: 2, stats: { pairs: 2 } });
    const stored = path.join(root, version.sha256.slice(0, 2), version.sha256.slice(2, 4), version.sha256);
    expect(fs.readFileSync(stored, "utf8")).toBe(PAIRS);
    expect(await refusal(uploadDatasetVersion(db, f.users.EDITOR, f.orgId, f.datasetId, Readable.from([PAIRS]), { store }))).toContain("identical to version 1");
    const listed = await callerFor(db, f.users.VIEWER).dataset.get({ datasetId: f.datasetId });
    expect(listed.versions.map((v) => v.version)).toEqual([1]);
  });

  it("refuses invalid lines with their numbers, and stores nothing", async () => {
    const bad = ['{"prompt": "a", "response": "b"}', "not json", '{"prompt": 3, "response": "x"}', '["list"]'].join("\n");
    const message = await refusal(uploadDatasetVersion(db, f.users.EDITOR, f.orgId, f.datasetId, Readable.from([bad]), { store }));
    expect(message).toContain("line 2: not valid JSON");
    expect(message).toContain('line 3: "prompt" must be a string');
    expect(message).toContain("line 4: expected an object");
    expect(await store.has(sha256(bad))).toBe(false);
  });

  it("refuses uploads over the size limit and text that is not UTF-8", async () => {
    expect(await refusal(uploadDatasetVersion(db, f.users.EDITOR, f.orgId, f.datasetId, Readable.from([Buffer.alloc(2048, 97)]), { store, maxBytes: 1024 }))).toContain("larger than the limit of 1024 bytes");
    const corpus = await callerFor(db, f.users.EDITOR).dataset.create({ projectId: f.projectId, name: `corpus-${kind}`, kind: "CORPUS" });
    const binary = Buffer.from([0x68, 0x69, 0x0a, 0xff, 0xfe, 0x0a]);
    expect(await refusal(uploadDatasetVersion(db, f.users.EDITOR, f.orgId, corpus.id, Readable.from([binary]), { store }))).toContain("line 2: not valid UTF-8");
  });
});

describe("the upload route", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  beforeAll(async () => {
    const opened = await openTestDatabase("postgres");
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    process.env.NEXTAUTH_SECRET = "upload-route-test-secret";
    process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-route-"));
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  async function post(cookieUserId: string | null, body: string) {
    const headers: Record<string, string> = {};
    if (cookieUserId) headers.cookie = `next-auth.session-token=${await encode({ token: { uid: cookieUserId, sid: await createSession(db, cookieUserId) }, secret: process.env.NEXTAUTH_SECRET! })}`;
    const req = new Request(`http://localhost/api/datasets/${f.datasetId}/versions`, { method: "POST", headers, body });
    return uploadRoute(req, { params: Promise.resolve({ datasetId: f.datasetId }) });
  }

  it("accepts an EDITOR's upload and refuses a VIEWER, an outsider and an anonymous caller", async () => {
    const ok = await post(f.users.EDITOR.userId, PAIRS);
    expect(ok.status).toBe(201);
    expect(await ok.json()).toMatchObject({ version: 1, lines: 2 });
    expect((await post(f.users.VIEWER.userId, PAIRS)).status).toBe(403);
    const outsider = await post(f.users.outsider.userId, PAIRS);
    expect(outsider.status).toBe(404);
    expect(await outsider.json()).toEqual({ error: { code: "NOT_FOUND", message: "Dataset not found." } });
    expect((await post(null, PAIRS)).status).toBe(401);
  });
});

describe("the S3-compatible artifact store", () => {
  let server: S3rver;
  let endpoint: string;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-s3-"));
  beforeAll(async () => {
    const port = await freePort();
    server = new S3rver({ port, address: "127.0.0.1", directory: dir, silent: true, configureBuckets: [{ name: "hearth" }] });
    await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("puts, finds, reads back and deletes an artifact with signed requests", async () => {
    const s3 = new S3ArtifactStore({ endpoint, bucket: "hearth", region: "us-east-1", accessKeyId: "S3RVER", secretAccessKey: "S3RVER", prefix: "artifacts/" });
    const file = path.join(dir, "upload.bin");
    fs.writeFileSync(file, PAIRS);
    const digest = sha256(PAIRS);
    expect(await s3.has(digest)).toBe(false);
    await s3.putFile(file, digest);
    expect(await s3.has(digest)).toBe(true);
    const chunks: Buffer[] = [];
    for await (const chunk of await s3.open(digest)) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(PAIRS);
    await s3.delete(digest);
    expect(await s3.has(digest)).toBe(false);
    await s3.delete(digest); // deleting what is gone is fine
  });

  it("signs exactly as AWS's published Signature V4 example (GET object with a range)", () => {
    // s3rver does not check V4 signatures, so the signature itself is checked against AWS's documented example.
    const headers = signV4({
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
      headers: { range: "bytes=0-9" },
      payloadSha256: sha256(""),
      region: "us-east-1",
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      now: new Date("2013-05-24T00:00:00Z"),
    });
    expect(headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
});
