// Input nested 100,000 deep is a client's mistake (or an attack on recursive code): 400, not 500,
// on the tRPC API (POST body and GET input) and on the OpenAI-compatible API (/v1).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { getDb, setDatabaseUrl } from "@/server/db/client";
import { createApiKey } from "@/server/apikeys/service";
import { serveOpenAiApi } from "@/server/serving/http";
import { GET as trpcGet, POST as trpcPost } from "@/app/api/trpc/[trpc]/route";
import { createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";

const DEEP = "[".repeat(100_000) + "]".repeat(100_000);
const DEEP_OBJECT = '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000);

describe("input nested 100,000 deep", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let key: string;

  beforeAll(async () => {
    const opened = await openTestDatabase("postgres");
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    key = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("k"), scopes: ["models:write", "datasets:read", "models:invoke"] })).secret;
  });
  afterAll(async () => close?.());

  it("gets 400 from a tRPC mutation and query", async () => {
    const authorization = `Bearer ${key}`;
    for (const name of [DEEP, DEEP_OBJECT]) {
      const post = await trpcPost(
        new Request("http://localhost/api/trpc/model.createVersion", {
          method: "POST",
          headers: { "content-type": "application/json", authorization },
          // config is free-form JSON: stored as it is, it reached Prisma's serializer (stack overflow, 500).
          body: `{"json": {"modelId": "${f.modelId}", "config": {"deep": ${name}}}}`,
        }),
      );
      expect(post.status, await post.clone().text().then((t) => t.slice(0, 300))).toBe(400);
      const get = await trpcGet(
        new Request(`http://localhost/api/trpc/dataset.list?input=${encodeURIComponent(`{"json": {"projectId": ${name}}}`)}`, { headers: { authorization } }),
      );
      expect(get.status).toBe(400);
    }
  });

  it("gets 400 from /v1/chat/completions", async () => {
    const server = http.createServer((req, res) => void serveOpenAiApi(req, res, { db: getDb(), routeCompletion: async () => { throw new Error("not reached"); } } as never));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/chat/completions`;
      for (const messages of [DEEP, DEEP_OBJECT]) {
        const res = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: `{"model": "m", "messages": ${messages}}` });
        expect(res.status).toBe(400);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
