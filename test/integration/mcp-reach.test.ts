// What no API key, and so no agent, can reach, read from the declarations themselves: every tRPC
// procedure's access metadata and every MCP tool's procedures. A procedure added without thought, or a
// tool that names the wrong procedure, fails here before it ships.
import { describe, expect, it } from "vitest";
import { API_SCOPES } from "@/contracts/roles";
import { procedureAccessList } from "@/server/trpc/caller";
import type { Access } from "@/server/trpc/init";
import { MCP_RESOURCES, MCP_TOOLS } from "@/server/mcp/tools";
import { toolsForKey, type KeyActor } from "@/server/mcp/server";

/** Steps that belong to people: approvals, roles and memberships, keys and tokens, deletion, secrets. */
const PEOPLE_ONLY = [
  "model.approvePromotion",
  "model.rejectPromotion",
  "member.updateRole",
  "member.remove",
  "member.endSessions",
  "invite.list",
  "invite.create",
  "invite.revoke",
  "invite.accept",
  "apiKey.list",
  "apiKey.create",
  "apiKey.revoke",
  "node.tokens",
  "node.createToken",
  "node.revokeToken",
  "project.delete",
  "endpoint.delete",
  "endpoint.create",
  "endpoint.update",
  "endpoint.check",
  "org.rename",
  "user.changePassword",
  "user.endSessions",
];
/** Allowed to keys with the scope, refused to agents' keys. */
const AGENTS_REFUSED = ["model.requestPromotion", "suite.publish", "policy.publish"];
/** The only changes an MCP tool may make: into live drafts, and launching runs. */
const TOOL_MUTATIONS = ["suite.importCases", "policy.update", "run.create"];

const procedures = procedureAccessList();
const byPath = new Map(procedures.map((p) => [p.path, p]));

function keyCanCall(access: Access | undefined): boolean {
  if (!access) return false;
  if (access.level === "public") return true;
  if (access.level === "signedIn") return access.apiKeys;
  return access.scope !== null;
}

describe("what keys and agents can reach, from the metadata", () => {
  it("names only real procedures", () => {
    for (const path of [...PEOPLE_ONLY, ...AGENTS_REFUSED, ...TOOL_MUTATIONS]) expect(byPath.has(path), path).toBe(true);
  });

  it("lets no API key call a step that belongs to people", () => {
    for (const path of PEOPLE_ONLY) expect(keyCanCall(byPath.get(path)!.access), path).toBe(false);
  });

  it("catches by name every procedure that approves, deletes, removes, revokes, sets roles or mints keys and tokens", () => {
    const dangerous = procedures.filter((p) => /approve|reject|delete|remove|revoke|role|token|^apiKey\.|^invite\.(?!preview)|password|endSessions/i.test(p.path));
    expect(dangerous.length).toBeGreaterThan(10);
    for (const p of dangerous) expect(keyCanCall(p.access), p.path).toBe(false);
  });

  it("lets keys call signed-in procedures only where they reveal nothing beyond the key's own organization", () => {
    const signedIn = procedures.filter((p) => p.access?.level === "signedIn" && p.access.apiKeys).map((p) => p.path);
    expect(signedIn.sort()).toEqual(["org.list", "user.me"]);
  });

  it("refuses agents' keys exactly promotion requests and publishing", () => {
    const refused = procedures.filter((p) => p.access && "agentKeys" in p.access && p.access.agentKeys === false).map((p) => p.path);
    expect(refused.sort()).toEqual([...AGENTS_REFUSED].sort());
  });

  it("gives every MCP tool only key-callable procedures, none of them people's or refused to agents", () => {
    for (const tool of MCP_TOOLS) {
      expect(tool.procedures.length, tool.name).toBeGreaterThan(0);
      for (const path of tool.procedures) {
        const procedure = byPath.get(path);
        expect(procedure, `${tool.name} -> ${path}`).toBeDefined();
        expect(procedure!.type, `${tool.name} -> ${path}`).not.toBe("subscription");
        expect(keyCanCall(procedure!.access), `${tool.name} -> ${path}`).toBe(true);
        expect(PEOPLE_ONLY, `${tool.name} -> ${path}`).not.toContain(path);
        expect(AGENTS_REFUSED, `${tool.name} -> ${path}`).not.toContain(path);
        if (procedure!.type === "mutation") expect(TOOL_MUTATIONS, `${tool.name} -> ${path}`).toContain(path);
        if (tool.readOnly) expect(procedure!.type, `${tool.name} is read-only but calls ${path}`).toBe("query");
      }
      expect(tool.name).not.toMatch(/approve|reject|promote|publish|delete|remove|role|member|key|invite|token|alias/);
    }
  });

  it("reads resources only through key-callable queries", () => {
    for (const resource of MCP_RESOURCES) {
      const procedure = byPath.get(resource.procedure);
      expect(procedure?.type, resource.name).toBe("query");
      expect(keyCanCall(procedure!.access), resource.name).toBe(true);
      expect(PEOPLE_ONLY).not.toContain(resource.procedure);
    }
  });

  it("shows an agent key with every scope every tool, and so nothing more than the tools above", () => {
    const agent: KeyActor = { type: "apiKey", keyId: "k", orgId: "o", scopes: [...API_SCOPES], label: "agent", agent: true };
    expect(toolsForKey(agent).map((t) => t.name)).toEqual(MCP_TOOLS.map((t) => t.name));
    const none: KeyActor = { ...agent, scopes: [] };
    expect(toolsForKey(none)).toEqual([]);
  });
});
