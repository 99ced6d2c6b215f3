// Stop and start Hearth on the same data directory: everything is still there, and the demo is seeded once.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startAppProcess, type AppProcess } from "../support/app-server";
import { freePort } from "../support/postgres";
import { signInOverHttp, trpcHttp } from "../support/http";

describe("restarting on the same ./data", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-restart-"));
  let running: AppProcess | undefined;
  afterAll(async () => {
    await running?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function demoSession(app: AppProcess, firstStart: boolean) {
    const demo = JSON.parse(fs.readFileSync(path.join(dataDir, "demo-sign-in.json"), "utf8")) as { email: string; password: string };
    // The password is printed on the first start only; later starts say where it is and how to reset it.
    if (firstStart) await expect.poll(() => app.output()).toContain(`Demo sign-in: ${demo.email} / ${demo.password}`);
    else {
      await expect.poll(() => app.output()).toContain(`reset it with: npx hearth reset-password ${demo.email}`);
      expect(app.output()).not.toContain(demo.password);
    }
    return { demo, cookie: await signInOverHttp(app.url, demo.email, demo.password) };
  }

  it("keeps data and does not seed twice", async () => {
    const port = await freePort();
    running = await startAppProcess({ port, dataDir });
    const first = await demoSession(running, true);
    const orgs = await trpcHttp(running.url, "query", "org.list", {}, { cookie: first.cookie });
    expect(orgs.body.result.data.json).toHaveLength(1);
    const demoOrg = orgs.body.result.data.json[0];
    expect(demoOrg).toMatchObject({ name: "Demo Organization", role: "OWNER", projectCount: 1 });
    // The demo project holds its policy, a suite citing it and datasets; reading them loads the
    // co-edited documents in the web server's bundle as well as in the custom server.
    const demoProject = (await trpcHttp(running.url, "query", "project.list", { orgId: demoOrg.id }, { cookie: first.cookie })).body.result.data.json[0];
    const policies = (await trpcHttp(running.url, "query", "policy.list", { projectId: demoProject.id }, { cookie: first.cookie })).body.result.data.json;
    expect(policies.map((p: { title: string; latest: { version: number } }) => [p.title, p.latest.version])).toEqual([["Support policy", 1]]);
    const policy = (await trpcHttp(running.url, "query", "policy.get", { policyId: policies[0].id }, { cookie: first.cookie })).body.result.data.json;
    expect(policy.clauses.map((c: { id: string }) => c.id)).toEqual(["refunds", "refunds-sale", "tone", "privacy", "shipping", "escalation"]);
    const suites = (await trpcHttp(running.url, "query", "suite.list", { projectId: demoProject.id }, { cookie: first.cookie })).body.result.data.json;
    const suite = (await trpcHttp(running.url, "query", "suite.get", { suiteId: suites[0].id }, { cookie: first.cookie })).body.result.data.json;
    expect(suite.versions.map((v: { version: number; caseCount: number }) => [v.version, v.caseCount])).toEqual([[1, 12]]);
    const datasets = (await trpcHttp(running.url, "query", "dataset.list", { projectId: demoProject.id }, { cookie: first.cookie })).body.result.data.json;
    expect(datasets.map((d: { name: string }) => d.name).sort()).toEqual(["support-corpus", "support-pairs"]);
    // The first start prints neither the duplicate-Yjs warning nor libwayland's errors (a generic
    // "no warning at all" check is not made: on a saturated machine the queue sweeper may log a slow
    // transaction, which is real and not what this test is about).
    const output = running.output();
    expect(output).not.toContain("Yjs was already imported");
    expect(output).not.toContain("XDG_RUNTIME_DIR");
    const created = await trpcHttp(running.url, "mutation", "project.create", { orgId: demoOrg.id, name: "Survives restarts" }, { cookie: first.cookie });
    expect(created.status).toBe(200);
    expect(await running.stop()).toBe(0);

    running = await startAppProcess({ port, dataDir });
    const second = await demoSession(running, false);
    expect(second.demo).toEqual(first.demo);
    const after = await trpcHttp(running.url, "query", "org.list", {}, { cookie: second.cookie });
    expect(after.body.result.data.json).toEqual([{ ...demoOrg, projectCount: 2 }]);
    const projects = await trpcHttp(running.url, "query", "project.list", { orgId: demoOrg.id }, { cookie: second.cookie });
    expect(projects.body.result.data.json.map((p: { name: string }) => p.name).sort()).toEqual(["Support Assistant", "Survives restarts"]);

    const health = await fetch(`${running.url}/api/health`).then((r) => r.json());
    expect(health).toMatchObject({ status: "ok", database: { reachable: true }, migrations: { pending: [], failed: [] } });
  });
});
