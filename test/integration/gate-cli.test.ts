// `hearth gate` (bin/hearth.mjs) against the real tRPC handler: a gate that cannot be evaluated (a
// suite with no thresholds, a baseline that does not exist or has no run) exits 2 with the reason,
// never "Gate PASSED" with exit 0.
import { spawn, spawnSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { setDatabaseUrl } from "@/server/db/client";
import { createApiKey } from "@/server/apikeys/service";
import { GET as trpcGet } from "@/app/api/trpc/[trpc]/route";
import { createOrgFixture, FIXTURE_CASE, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";

const root = path.resolve(import.meta.dirname, "../..");

describe("hearth gate when the gate cannot be evaluated", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let server: http.Server;
  let url: string;
  let secret: string;

  beforeAll(async () => {
    const opened = await openTestDatabase("postgres");
    ({ db, close } = opened);
    setDatabaseUrl(opened.url);
    f = await createOrgFixture(db);
    secret = (await createApiKey(db, f.users.OWNER, { orgId: f.orgId, name: unique("ci"), scopes: ["runs:read"] })).secret;
    // The tRPC route handler behind a plain HTTP server: what the CLI calls, without building the app.
    server = http.createServer(async (req, res) => {
      const response = await trpcGet(new Request(`http://127.0.0.1${req.url}`, { headers: req.headers as Record<string, string> }));
      res.writeHead(response.status, Object.fromEntries(response.headers));
      res.end(Buffer.from(await response.arrayBuffer()));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await close?.();
  });

  /** A model with versions each evaluated on a new suite version (thresholds as given): [versionId per pass list]. */
  async function evaluated(thresholds: object | null, passes: boolean[][]) {
    const suite = await db.evalSuite.create({
      data: { projectId: f.projectId, name: unique("suite"), draft: [FIXTURE_CASE], ...(thresholds ? { thresholds } : {}), createdById: f.users.OWNER.userId },
      select: { id: true },
    });
    const suiteVersion = await db.suiteVersion.create({
      data: { suiteId: suite.id, version: 1, cases: [FIXTURE_CASE], caseCount: 1, sha256: "2".repeat(64), message: "v1", authorId: f.users.OWNER.userId },
      select: { id: true },
    });
    const model = await db.model.create({ data: { projectId: f.projectId, name: unique("model"), createdById: f.users.OWNER.userId }, select: { id: true } });
    const versions: string[] = [];
    for (const [i, pass] of passes.entries()) {
      const version = await db.modelVersion.create({ data: { modelId: model.id, version: i + 1, config: {}, createdById: f.users.OWNER.userId }, select: { id: true } });
      if (pass.length) {
        const run = await db.run.create({
          data: { projectId: f.projectId, kind: "EVAL", target: "NODE", status: "SUCCEEDED", finishedAt: new Date(), suiteVersionId: suiteVersion.id, modelVersionId: version.id, createdById: f.users.OWNER.userId },
          select: { id: true },
        });
        for (const p of pass) await db.evalResult.create({ data: { runId: run.id, caseId: FIXTURE_CASE.id, output: p ? "No." : "Yes.", grades: [], score: p ? 1 : 0, pass: p } });
      }
      versions.push(version.id);
    }
    return { modelId: model.id, suiteVersionId: suiteVersion.id, versions };
  }

  /** Runs the CLI (asynchronously: the server it calls runs in this process). */
  function gate(records: { modelId: string; suiteVersionId: string }, candidate: string, baseline?: string): Promise<{ status: number | null; out: string }> {
    const child = spawn(
      process.execPath,
      [path.join(root, "bin", "hearth.mjs"), "gate", "--url", url, "--model", records.modelId, "--suite-version", records.suiteVersionId, "--candidate", candidate, ...(baseline ? ["--baseline", baseline] : [])],
      { env: { ...process.env, HEARTH_API_KEY: secret } },
    );
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.stderr.on("data", (chunk) => (out += chunk));
    return new Promise((resolve) => child.on("close", (status) => resolve({ status, out })));
  }

  it("passes and fails as before when the suite has thresholds and the baseline exists", async () => {
    const records = await evaluated({ overall: 1 }, [[true], [false]]);
    const passed = await gate(records, records.versions[0]);
    expect(passed.status, passed.out).toBe(0);
    expect(passed.out).toContain("Gate PASSED");
    const failed = await gate(records, records.versions[1], records.versions[0]);
    expect(failed.status, failed.out).toBe(1);
  });

  it("is not evaluable (exit 2) when the suite has no thresholds", async () => {
    for (const thresholds of [null, {}, { tags: {} }]) {
      const records = await evaluated(thresholds, [[false]]);
      const result = await gate(records, records.versions[0]);
      expect(result.status, result.out).toBe(2);
      expect(result.out).toContain("Gate not evaluable: The suite has no thresholds");
      expect(result.out).not.toContain("PASSED");
    }
  });

  it("is not evaluable (exit 2) when the baseline alias does not exist or has no eval run", async () => {
    const records = await evaluated({ overall: 0.5 }, [[true], []]);
    const missing = await gate(records, records.versions[0], "no-such-alias");
    expect(missing.status, missing.out).toBe(2);
    expect(missing.out).toContain('Gate not evaluable: The baseline "no-such-alias" is neither an alias nor a version of this model.');
    const unevaluated = await gate(records, records.versions[0], records.versions[1]);
    expect(unevaluated.status, unevaluated.out).toBe(2);
    expect(unevaluated.out).toContain("has no successful eval run on this suite version");
  });
});

describe("hearth --help", () => {
  it("prints the usage of every command on stdout and succeeds; no command at all is a usage error", () => {
    const help = spawnSync(process.execPath, [path.join(root, "bin", "hearth.mjs"), "--help"], { encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const command of ["hearth gate", "hearth node", "hearth model push", "hearth backup", "hearth reset-password"]) expect(help.stdout).toContain(command);
    const none = spawnSync(process.execPath, [path.join(root, "bin", "hearth.mjs")], { encoding: "utf8" });
    expect([none.status, none.stdout]).toEqual([2, ""]);
    expect(none.stderr).toContain("Usage: hearth");
  });
});
