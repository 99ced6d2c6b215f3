// Cross-site request forgery: a page on another origin (another site, or another port of localhost)
// makes the browser send the session cookie with its POST. Every cookie-authenticated state-changing
// route refuses it (403) and changes nothing; the app's own pages, non-browser clients and API keys
// are unaffected.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encode } from "next-auth/jwt";
import { createSession } from "@/server/auth/sessions";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { createApiKey } from "@/server/apikeys/service";
import { POST as datasetUpload } from "@/app/api/datasets/[datasetId]/versions/route";
import { POST as modelUpload } from "@/app/api/models/[modelId]/versions/route";
import { POST as trpcPost } from "@/app/api/trpc/[trpc]/route";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";

const APP = "http://localhost:3000";
const LINES = (n: number) => `{"prompt": "q${n}", "response": "a${n}"}\n`;

describe("cookie-authenticated state changes from another origin", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let cookie: string;
  let n = 0;

  beforeAll(async () => {
    const opened = await openTestDatabase("postgres");
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    process.env.NEXTAUTH_SECRET = "cross-site-test-secret";
    process.env.NEXTAUTH_URL = APP;
    process.env.HEARTH_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cross-site-"));
    f = await createOrgFixture(db);
    cookie = `next-auth.session-token=${await encode({ token: { uid: f.users.EDITOR.userId, sid: await createSession(db, f.users.EDITOR.userId) }, secret: process.env.NEXTAUTH_SECRET })}`;
  });
  afterAll(async () => close?.());

  const versions = () => db.datasetVersion.count({ where: { datasetId: f.datasetId } });
  const uploadDataset = (headers: Record<string, string>) =>
    datasetUpload(new Request(`${APP}/api/datasets/${f.datasetId}/versions`, { method: "POST", headers, body: LINES(++n) }), { params: Promise.resolve({ datasetId: f.datasetId }) });

  it("refuses a dataset upload with the cookie from another port, another site or a cross-site fetch, and stores nothing", async () => {
    const before = await versions();
    for (const headers of <Record<string, string>[]>[
      { cookie, origin: "http://localhost:3001" },
      { cookie, origin: "https://evil.example" },
      { cookie, "sec-fetch-site": "same-site" },
      { cookie, "sec-fetch-site": "cross-site", origin: "http://localhost:3001" },
      { cookie, origin: "null" },
    ]) {
      const res = await uploadDataset(headers);
      expect(res.status, JSON.stringify(headers)).toBe(403);
      expect((await res.json()).error.message).toContain("Cross-site request refused");
    }
    expect(await versions()).toBe(before);
  });

  it("accepts the app's own pages, a client that sends no browser headers, and an API key from anywhere", async () => {
    const before = await versions();
    expect((await uploadDataset({ cookie, origin: APP, "sec-fetch-site": "same-origin" })).status).toBe(201);
    expect((await uploadDataset({ cookie })).status).toBe(201);
    const key = await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("k"), scopes: ["datasets:write"] });
    expect((await uploadDataset({ authorization: `Bearer ${key.secret}`, cookie, origin: "http://localhost:3001", "sec-fetch-site": "same-site" })).status).toBe(201);
    expect(await versions()).toBe(before + 3);
  });

  it("refuses a model upload with the cookie from another origin before reading the body", async () => {
    const before = await db.modelVersion.count({ where: { modelId: f.modelId } });
    const upload = (headers: Record<string, string>) =>
      modelUpload(new Request(`${APP}/api/models/${f.modelId}/versions`, { method: "POST", headers, body: "not a checkpoint" }), { params: Promise.resolve({ modelId: f.modelId }) });
    expect((await upload({ cookie, origin: "http://localhost:3001" })).status).toBe(403);
    expect((await upload({ cookie, "sec-fetch-site": "cross-site" })).status).toBe(403);
    // From the app itself the same request gets as far as checking the file.
    expect((await upload({ cookie, origin: APP })).status).toBe(400);
    expect(await db.modelVersion.count({ where: { modelId: f.modelId } })).toBe(before);
  });

  it("refuses a tRPC mutation with the cookie from another origin, and accepts it from the app", async () => {
    const create = (headers: Record<string, string>, name: string) =>
      trpcPost(
        new Request(`${APP}/api/trpc/dataset.create`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ json: { projectId: f.projectId, name, kind: "PAIRS" } }),
        }),
      );
    const evil = unique("evil");
    expect((await create({ cookie, origin: "http://localhost:3001" }, evil)).status).toBe(403);
    expect((await create({ cookie, "sec-fetch-site": "same-site" }, evil)).status).toBe(403);
    expect(await db.dataset.count({ where: { name: evil } })).toBe(0);
    const good = unique("good");
    const res = await create({ cookie, origin: APP, "sec-fetch-site": "same-origin" }, good);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await db.dataset.count({ where: { name: good } })).toBe(1);
  });
});
