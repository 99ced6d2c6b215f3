// The release gate from a customer's CI: `hearth gate` with an API key exits 0 on pass and 1 on failure.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { rootDir } from "../../scripts/build";
import { signInOverHttp, trpcHttp } from "../support/http";
import { FIXTURE_CASE, unique } from "../support/fixtures";

const app = inject("app");

describe("hearth gate (CLI)", () => {
  it("passes a good candidate and fails one that regresses, with the reasons", async () => {
    const email = `${unique("ci")}@example.test`;
    const password = "ci-password-12345";
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "CI Owner", password });
    const cookie = { cookie: await signInOverHttp(app.url, email, password) };
    const call = async (kind: "query" | "mutation", procedure: string, input: unknown, headers: Record<string, string> = cookie) => {
      const response = await trpcHttp(app.url, kind, procedure, input, headers);
      expect(response.status, `${procedure}: ${JSON.stringify(response.body)}`).toBe(200);
      return response.body.result.data.json;
    };
    const org = await call("mutation", "org.create", { name: "CI Org" });
    const project = await call("mutation", "project.create", { orgId: org.id, name: "Gate" });
    const suite = await call("mutation", "suite.create", { projectId: project.id, name: "release" });
    const cases = [FIXTURE_CASE, { ...FIXTURE_CASE, id: "receipt-required", input: "Do I need a receipt?" }];
    await call("mutation", "suite.setCases", { suiteId: suite.id, cases });
    await call("mutation", "suite.update", { suiteId: suite.id, thresholds: { overall: 1 } });
    const suiteVersion = await call("mutation", "suite.publish", { suiteId: suite.id, message: "v1" });
    const model = await call("mutation", "model.create", { projectId: project.id, name: "assistant" });
    const { secret } = await call("mutation", "apiKey.create", { orgId: org.id, name: "ci", scopes: ["runs:read", "runs:write"] });
    const key = { authorization: `Bearer ${secret}` };

    async function evaluatedVersion(passes: boolean[]) {
      const version = await call("mutation", "model.createVersion", { modelId: model.id, config: { preset: "tiny" } });
      const run = await call("mutation", "run.create", { projectId: project.id, kind: "EVAL", target: "NODE", suiteVersionId: suiteVersion.id, modelVersionId: version.id }, key);
      await call("mutation", "run.transition", { runId: run.id, status: "RUNNING" }, key);
      const results = cases.map((c, i) => ({ caseId: c.id, output: passes[i] ? "No" : "Yes", grades: [], score: passes[i] ? 1 : 0, pass: passes[i] }));
      await call("mutation", "run.recordResults", { runId: run.id, results }, key);
      await call("mutation", "run.transition", { runId: run.id, status: "SUCCEEDED" }, key);
      return version;
    }
    const good = await evaluatedVersion([true, true]);
    const bad = await evaluatedVersion([true, false]);

    const gate = (candidate: string, baseline?: string) =>
      spawnSync(process.execPath, [path.join(rootDir, "bin", "hearth.mjs"), "gate", "--url", app.url, "--model", model.id, "--suite-version", suiteVersion.id, "--candidate", candidate, ...(baseline ? ["--baseline", baseline] : [])], {
        env: { ...process.env, HEARTH_API_KEY: secret },
        encoding: "utf8",
      });
    const passed = gate(good.id);
    expect(passed.status, passed.stderr).toBe(0);
    expect(passed.stdout).toContain("Gate PASSED");

    const failed = gate(bad.id, good.id);
    expect(failed.status).toBe(1);
    expect(failed.stdout).toContain("FAIL overall: 50.0% (needs 100.0%, 2 cases)");
    expect(failed.stdout).toContain("receipt-required: 1.00 -> 0.00");
    // one regression in two paired cases could be chance, and the gate says so (McNemar exact: p = 2 * 0.5 = 1)
    expect(failed.stdout).toContain("against the baseline: pass rate -50.0 pts over 2 paired cases (0 improved, 1 regressed); McNemar exact p = 1.00");
    expect(failed.stdout).toMatch(/95% CI \[-1\.000, 0\.000\] \(paired bootstrap, 10000 resamples\): could be chance/);

    const noKey = spawnSync(process.execPath, [path.join(rootDir, "bin", "hearth.mjs"), "gate", "--url", app.url, "--model", model.id, "--suite-version", suiteVersion.id, "--candidate", good.id], {
      env: { ...process.env, HEARTH_API_KEY: "hth_000000000000_" + "x".repeat(32) },
      encoding: "utf8",
    });
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toContain("HTTP 401");
  });
});
