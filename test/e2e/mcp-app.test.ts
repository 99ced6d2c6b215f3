// The MCP server as deployed: Hearth's own process serves /mcp beside Next (server/main.ts), and
// `hearth mcp` relays a stdio client to it; an agent key made on the API keys procedure is an agent's
// everywhere (refused publishing over /api/trpc too), and a page on another origin is turned away.
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { rootDir } from "../../scripts/build";
import { signInOverHttp, trpcHttp } from "../support/http";
import { FIXTURE_CASE, unique } from "../support/fixtures";

const app = inject("app");

describe("the MCP server in Hearth's process", () => {
  it("serves an agent key's client over HTTP and stdio, and refuses it what belongs to people", async () => {
    const email = `${unique("agent-owner")}@example.test`;
    const password = "agent-owner-password-123";
    await trpcHttp(app.url, "mutation", "user.signUp", { email, name: "Agent Owner", password });
    const cookie = { cookie: await signInOverHttp(app.url, email, password) };
    const call = async (procedure: string, input: unknown) => {
      const response = await trpcHttp(app.url, "mutation", procedure, input, cookie);
      expect(response.status, `${procedure}: ${JSON.stringify(response.body)}`).toBe(200);
      return response.body.result.data.json;
    };
    const org = await call("org.create", { name: "Agent Org" });
    const project = await call("project.create", { orgId: org.id, name: "Agents" });
    const suite = await call("suite.create", { projectId: project.id, name: "support" });
    await call("suite.setCases", { suiteId: suite.id, cases: [FIXTURE_CASE] });
    const { secret, key } = await call("apiKey.create", { orgId: org.id, name: "agent", scopes: ["projects:read", "suites:read", "suites:write"], agent: true });
    expect(key.agent).toBe(true);

    const http = new Client({ name: "e2e-agent", version: "1" });
    await http.connect(new StreamableHTTPClientTransport(new URL(`${app.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${secret}` } } }));
    const projects = (await http.callTool({ name: "list_projects", arguments: {} })) as unknown as { structuredContent: { untrusted_data: { id: string }[] } };
    expect(projects.structuredContent.untrusted_data.map((p) => p.id)).toEqual([project.id]);
    await http.close();

    const stdio = new Client({ name: "e2e-agent-stdio", version: "1" });
    const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => typeof e[1] === "string"));
    await stdio.connect(new StdioClientTransport({ command: process.execPath, args: [path.join(rootDir, "bin", "hearth.mjs"), "mcp", "--url", app.url], env: { ...env, HEARTH_API_KEY: secret }, cwd: rootDir, stderr: "pipe" }));
    const tools = (await stdio.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(["get_suite", "get_suite_version", "list_projects", "list_suites", "propose_cases"]);
    const read = (await stdio.callTool({ name: "get_suite", arguments: { suiteId: suite.id } })) as unknown as { structuredContent: { untrusted_data: { draft: { id: string }[] } } };
    expect(read.structuredContent.untrusted_data.draft.map((c) => c.id)).toEqual([FIXTURE_CASE.id]);
    await stdio.close();

    // The same key over the API: publishing is a person's step.
    const publish = await trpcHttp(app.url, "mutation", "suite.publish", { suiteId: suite.id, message: "by an agent" }, { authorization: `Bearer ${secret}` });
    expect(publish.status).toBe(403);

    const fromAnotherSite = await fetch(`${app.url}/mcp`, {
      method: "POST",
      headers: { authorization: `Bearer ${secret}`, origin: "http://attacker.example", "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(fromAnotherSite.status).toBe(403);
  });
});
