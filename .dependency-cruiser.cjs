// The dependency rule of ../shared/DESIGN.md, checked by `npm test` (test/unit/dependency-rules.test.ts)
// and by hand with `npx depcruise app server gpu node-agent contracts scripts bin`. Each rule's name
// is what a failing test prints.
//
//   app (pages) -> server only through tRPC types and contracts; app/api (route handlers) -> server
//   server -> gpu, contracts;  node-agent -> gpu, contracts;  contracts -> gpu's eval case model only
//   gpu -> nothing of ours;  no cycles, type-only imports included.
const OURS = "^(app|server|gpu|node-agent|contracts|scripts|bin)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-cycles",
      comment: "Modules of ours must not import each other in a circle (type-only imports count: they tie the parts as tightly).",
      severity: "error",
      from: { path: OURS },
      to: { circular: true },
    },
    {
      name: "gpu-imports-nothing-of-ours",
      comment: "gpu/ is the engine: it runs in a page, a worker and Node, and imports no other part of Hearth.",
      severity: "error",
      from: { path: "^gpu/" },
      to: { path: "^(app|server|node-agent|contracts|scripts|bin)/" },
    },
    {
      name: "contracts-import-no-runtime-of-ours",
      comment: "contracts/ is what pages, server, node agent and engine share: it may name the engine's eval case model and nothing else of ours.",
      severity: "error",
      from: { path: "^contracts/" },
      to: { path: OURS, pathNot: "^(contracts/|gpu/eval/)" },
    },
    {
      name: "node-agent-only-gpu-and-contracts",
      comment: "`hearth node` runs on GPU servers: it talks to the server over HTTP and loads no server code.",
      severity: "error",
      from: { path: "^node-agent/" },
      to: { path: "^(app|server|scripts)/" },
    },
    {
      name: "node-agent-loads-no-web-runtime",
      comment: "The node agent must start without Prisma, the pg driver, next-auth or Next.",
      severity: "error",
      from: { path: "^node-agent/" },
      to: { path: "node_modules/(@prisma|\\.prisma|prisma|pg|next-auth|next)/" },
    },
    {
      name: "server-does-not-import-app-or-node-agent",
      comment: "The server is below the pages and beside the node agent.",
      severity: "error",
      from: { path: "^server/" },
      to: { path: "^(app|node-agent)/" },
    },
    {
      name: "domain-code-does-not-import-trpc",
      comment: "Only routers (server/*/router.ts), the tRPC folder and the MCP server (server/mcp/, a second edge that calls the same guarded procedures) know tRPC; domain code throws DomainError and routers translate.",
      severity: "error",
      from: { path: "^server/", pathNot: "^server/(trpc/|mcp/|[^/]+/router\\.ts$)" },
      to: { path: "^server/trpc/" },
    },
    {
      name: "pages-reach-server-only-through-trpc-types-and-contracts",
      comment:
        "Pages and components import the API's types (server/trpc/root, type-only) and contracts/; route handlers (app/api) are server edges. Server components read the session through server/auth/options.",
      severity: "error",
      from: { path: "^app/", pathNot: "^app/api/" },
      to: { path: "^(server|node-agent)/", pathNot: "^server/(trpc/root\\.ts|auth/options\\.ts)$" },
    },
    {
      name: "pages-import-the-router-as-a-type-only",
      comment: "The router's runtime belongs to the server; a page needs only its type.",
      severity: "error",
      from: { path: "^app/", pathNot: "^app/api/" },
      to: { path: "^server/trpc/root\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "server-components-only-read-the-session",
      comment: "Only server components (page.tsx, layout.tsx) may read the session; client components cannot run server code.",
      severity: "error",
      from: { path: "^app/", pathNot: "^app/(api/|.*(page|layout)\\.tsx$)" },
      to: { path: "^server/auth/options\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)(\\.next|server/db/generated)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".mjs", ".cjs", ".json"],
    },
  },
};
