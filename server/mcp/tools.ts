// The MCP server's tools: the routine loop of an agent (read, propose into the live draft, launch an
// eval and wait for it, check a gate). Each tool calls guarded tRPC procedures as the key itself, so the
// procedures' own guards decide every call; a tool's scopes are those of the procedures it names, read
// from their metadata, and a key sees only the tools whose procedures it may call. Nothing here can
// approve, move an alias, change roles or members, create keys, delete, publish or request a promotion:
// no tool names such a procedure, and test/integration/mcp-reach.test.ts proves it from the metadata.
import { z } from "zod";
import { idSchema } from "@/contracts/zod";
import { EvalCaseSchema } from "@/gpu/eval/case";
import { toHearthJsonl } from "@/gpu/eval/formats/hearth-jsonl";
import { DomainError } from "@/server/errors";

/** Calls a tRPC procedure by its path ("suite.get") as the key; the procedure's guard applies. */
export type CallProcedure = (path: string, input: Record<string, unknown>) => Promise<unknown>;

export interface ToolContext {
  call: CallProcedure;
  /** The key's organization, and its one project for a project key. */
  orgId: string;
  projectId?: string;
  signal: AbortSignal;
}

export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  /** Every procedure the tool may call; the key needs all their scopes to see the tool. */
  procedures: readonly string[];
  readOnly: boolean;
  input: z.ZodRawShape;
  run(args: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}

const TERMINAL_RUN_STATUSES = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);
const ID = (what: string) => idSchema.describe(`The ${what}'s id, as another tool returned it.`);

function tool<S extends z.ZodRawShape>(definition: Omit<ToolDefinition, "input" | "run"> & { input: S; run(args: z.infer<z.ZodObject<S>>, ctx: ToolContext): Promise<unknown> }): ToolDefinition {
  return definition as unknown as ToolDefinition;
}

export const MCP_TOOLS: readonly ToolDefinition[] = [
  tool({
    name: "list_projects",
    title: "List projects",
    description: "Lists the projects this key can reach (all of its organization's, or the one project of a project key), optionally only those whose name or slug contains `query`. Returns id, name, slug and description of each.",
    procedures: ["project.list", "project.get"],
    readOnly: true,
    input: { query: z.string().max(100).optional().describe("Case-insensitive text to look for in project names and slugs.") },
    async run({ query }, ctx) {
      const projects = (ctx.projectId ? [await ctx.call("project.get", { projectId: ctx.projectId })] : await ctx.call("project.list", { orgId: ctx.orgId })) as { name: string; slug: string }[];
      const needle = query?.toLowerCase();
      return needle ? projects.filter((p) => p.name.toLowerCase().includes(needle) || p.slug.toLowerCase().includes(needle)) : projects;
    },
  }),
  tool({
    name: "list_suites",
    title: "List eval suites",
    description: "Lists a project's eval suites: id, name, description, case count of the live draft, thresholds, and latest published version.",
    procedures: ["suite.list"],
    readOnly: true,
    input: { projectId: ID("project") },
    run: (args, ctx) => ctx.call("suite.list", args),
  }),
  tool({
    name: "get_suite",
    title: "Read an eval suite",
    description:
      "Reads one eval suite: its live draft cases (what people are editing now; each case has id, input, expected or choices, graders, tags and the policy clauses it tests), the problems that would block publishing, thresholds, and its published versions (number, id, case count, message). Runs use published versions (suiteVersionId), never the draft.",
    procedures: ["suite.get"],
    readOnly: true,
    input: { suiteId: ID("suite") },
    run: (args, ctx) => ctx.call("suite.get", args),
  }),
  tool({
    name: "get_suite_version",
    title: "Read a published suite version",
    description: "Reads one immutable published version of a suite by its number (1, 2, ...): its cases, sha256, message and author.",
    procedures: ["suite.version"],
    readOnly: true,
    input: { suiteId: ID("suite"), version: z.number().int().min(1).describe("The version number, as get_suite lists them.") },
    run: (args, ctx) => ctx.call("suite.version", args),
  }),
  tool({
    name: "propose_cases",
    title: "Add cases to a suite's live draft",
    description:
      "Appends eval cases to a suite's live draft, where the people editing it see them at once, marked as this key's edit. Nothing is published: a person reviews the draft and publishes a version. Case ids must be new in the suite. Each case: id (1-100 of A-Z a-z 0-9 . _ : -), input (a string, or chat messages [{role, content}]), expected (optional), graders (e.g. [{\"type\": \"contains\", \"values\": [\"30 days\"]}]), tags (strings), clauses (policy clause ids it tests, may be []).",
    procedures: ["suite.importCases"],
    readOnly: false,
    input: { suiteId: ID("suite"), cases: z.array(EvalCaseSchema).min(1).max(100).describe("The cases to append (at most 100 per call).") },
    async run({ suiteId, cases }, ctx) {
      return ctx.call("suite.importCases", { suiteId, format: "hearth-jsonl", content: toHearthJsonl(cases), mode: "append" });
    },
  }),
  tool({
    name: "list_policies",
    title: "List policies",
    description: "Lists a project's policies: id, key, title and latest published version.",
    procedures: ["policy.list"],
    readOnly: true,
    input: { projectId: ID("project") },
    run: (args, ctx) => ctx.call("policy.list", args),
  }),
  tool({
    name: "get_policy",
    title: "Read a policy",
    description: "Reads a policy: its live draft text (markdown; every heading is a clause; the clauses with their stable ids are listed beside the text) and its published versions.",
    procedures: ["policy.get"],
    readOnly: true,
    input: { policyId: ID("policy") },
    run: (args, ctx) => ctx.call("policy.get", args),
  }),
  tool({
    name: "get_policy_version",
    title: "Read a published policy version",
    description: "Reads one immutable published version of a policy by its number: its text, clauses (id and text of each) and sha256.",
    procedures: ["policy.version"],
    readOnly: true,
    input: { policyId: ID("policy"), version: z.number().int().min(1).describe("The version number, as get_policy lists them.") },
    run: (args, ctx) => ctx.call("policy.version", args),
  }),
  tool({
    name: "propose_policy_edit",
    title: "Edit a policy's live draft",
    description:
      "Replaces one exact passage of a policy's live draft with new text; the people editing it see the change at once, marked as this key's edit. Nothing is published: a person reviews and publishes. `find` must occur exactly once in the current draft (read it with get_policy first).",
    procedures: ["policy.get", "policy.update"],
    readOnly: false,
    input: {
      policyId: ID("policy"),
      find: z.string().min(1).max(20_000).describe("The exact current text to replace; must occur exactly once."),
      replace: z.string().max(20_000).describe("The text to put in its place."),
    },
    async run({ policyId, find, replace }, ctx) {
      const policy = (await ctx.call("policy.get", { policyId })) as { draft: string };
      const at = policy.draft.indexOf(find);
      if (at < 0) throw new DomainError("BAD_REQUEST", "`find` does not occur in the current draft; read it again with get_policy.");
      if (policy.draft.indexOf(find, at + 1) >= 0) throw new DomainError("BAD_REQUEST", "`find` occurs more than once in the draft; include more surrounding text.");
      const draft = policy.draft.slice(0, at) + replace + policy.draft.slice(at + find.length);
      await ctx.call("policy.update", { policyId, draft });
      return { policyId, replacedAt: at, draftLength: draft.length };
    },
  }),
  tool({
    name: "list_models",
    title: "List models",
    description: "Lists a project's models with their aliases (production, candidate, ...; protected ones move only by an approved promotion) and version counts.",
    procedures: ["model.list"],
    readOnly: true,
    input: { projectId: ID("project") },
    run: (args, ctx) => ctx.call("model.list", args),
  }),
  tool({
    name: "get_model",
    title: "Read a model",
    description: "Reads a model: every version (number, id, architecture, parameters, dtype, license, lineage: parent version, run, dataset, suite and policy versions) and its aliases.",
    procedures: ["model.get"],
    readOnly: true,
    input: { modelId: ID("model") },
    run: (args, ctx) => ctx.call("model.get", args),
  }),
  tool({
    name: "list_promotions",
    title: "List promotion requests",
    description: "Lists a model's promotion requests and their review status (PENDING, APPROVED, REJECTED), with the gate report each was requested with. Approving is for people only.",
    procedures: ["model.promotions"],
    readOnly: true,
    input: { modelId: ID("model") },
    run: (args, ctx) => ctx.call("model.promotions", args),
  }),
  tool({
    name: "list_endpoints",
    title: "List external endpoints",
    description: "Lists a project's external OpenAI-compatible endpoints (id, name, base URL, model; never their keys), to evaluate with create_eval_run.",
    procedures: ["endpoint.list"],
    readOnly: true,
    input: { projectId: ID("project") },
    run: (args, ctx) => ctx.call("endpoint.list", args),
  }),
  tool({
    name: "list_runs",
    title: "List runs",
    description: "Lists a project's runs, newest first: id, kind, target, status, suite and model versions, summary (pass rate, cases). Filter by kind or suite.",
    procedures: ["run.list"],
    readOnly: true,
    input: {
      projectId: ID("project"),
      kind: z.enum(["PRETRAIN", "SFT", "LORA", "EVAL"]).optional().describe("Only runs of this kind."),
      suiteId: ID("suite").optional().describe("Only eval runs of this suite's versions."),
      limit: z.number().int().min(1).max(100).default(20).describe("How many runs (default 20)."),
    },
    run: (args, ctx) => ctx.call("run.list", args),
  }),
  tool({
    name: "get_run",
    title: "Read a run",
    description: "Reads one run: kind, target, status, error, summary (for evals: cases, passed, pass rate, per tag), suite version, model version or endpoint, times.",
    procedures: ["run.get"],
    readOnly: true,
    input: { runId: ID("run") },
    run: (args, ctx) => ctx.call("run.get", args),
  }),
  tool({
    name: "get_run_results",
    title: "Read an eval run's per-case results",
    description: "Reads an eval run's per-case results: case id, the model's or endpoint's output, each grader's score, pass and reason. `onlyFailures` returns only the failed cases. Page with `cursor` (nextCursor of the previous page).",
    procedures: ["run.results"],
    readOnly: true,
    input: {
      runId: ID("run"),
      onlyFailures: z.boolean().default(false).describe("Only cases that failed."),
      limit: z.number().int().min(1).max(200).default(50).describe("Results per page (default 50)."),
      cursor: z.string().max(100).optional().describe("nextCursor from the previous page."),
    },
    run: (args, ctx) => ctx.call("run.results", args),
  }),
  tool({
    name: "get_run_metrics",
    title: "Read a run's metrics",
    description: "Reads a run's metric series (training loss, learning rate, eval scores): name, step and value of each point.",
    procedures: ["run.metrics"],
    readOnly: true,
    input: { runId: ID("run"), names: z.array(z.string().max(100)).max(50).optional().describe("Only these metric names.") },
    run: (args, ctx) => ctx.call("run.metrics", args),
  }),
  tool({
    name: "create_eval_run",
    title: "Launch an eval run",
    description:
      "Launches an eval run of a published suite version against an external endpoint (endpointId: the server calls it for each case) or a model version (modelVersionId: the organization's GPU nodes run it). Exactly one of the two. Runs launched per key are limited by a quota. Follow it with wait_for_run, then get_run_results with onlyFailures.",
    procedures: ["run.create"],
    readOnly: false,
    input: {
      projectId: ID("project"),
      suiteVersionId: ID("published suite version").describe("The published suite version's id (get_suite lists versions with their ids)."),
      endpointId: ID("endpoint").optional().describe("Evaluate this external endpoint (list_endpoints)."),
      modelVersionId: ID("model version").optional().describe("Evaluate this model version on the GPU nodes (get_model)."),
      maxTokens: z.number().int().min(1).max(4096).optional().describe("Most tokens generated per case."),
      temperature: z.number().min(0).max(2).optional().describe("Sampling temperature (0: greedy)."),
    },
    async run({ projectId, suiteVersionId, endpointId, modelVersionId, maxTokens, temperature }, ctx) {
      if (!endpointId === !modelVersionId) throw new DomainError("BAD_REQUEST", "Give exactly one of endpointId and modelVersionId.");
      const config = { ...(maxTokens !== undefined ? { maxTokens } : {}), ...(temperature !== undefined ? { temperature } : {}) };
      return ctx.call("run.create", endpointId
        ? { projectId, kind: "EVAL", target: "ENDPOINT", endpointId, suiteVersionId, config }
        : { projectId, kind: "EVAL", target: "NODE", modelVersionId, suiteVersionId, config });
    },
  }),
  tool({
    name: "wait_for_run",
    title: "Wait for a run to finish",
    description: "Waits until a run ends (SUCCEEDED, FAILED or CANCELLED) or `timeoutSeconds` pass, then returns the run and whether it finished. Call it again if it has not.",
    procedures: ["run.get"],
    readOnly: true,
    input: { runId: ID("run"), timeoutSeconds: z.number().int().min(1).max(120).default(60).describe("Longest wait in seconds (default 60, at most 120).") },
    async run({ runId, timeoutSeconds }, ctx) {
      const deadline = Date.now() + timeoutSeconds * 1000;
      for (;;) {
        const run = (await ctx.call("run.get", { runId })) as { status: string };
        if (TERMINAL_RUN_STATUSES.has(run.status)) return { finished: true, run };
        if (Date.now() >= deadline || ctx.signal.aborted) return { finished: false, run };
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  }),
  tool({
    name: "check_release_gate",
    title: "Check a release gate",
    description:
      "Checks whether a candidate model version passes a suite version's thresholds, and against a baseline (an alias such as production, or a version id) which cases regressed. Uses the latest finished eval runs of each version. Read-only: it requests nothing.",
    procedures: ["model.gate"],
    readOnly: true,
    input: {
      modelId: ID("model"),
      candidateVersionId: ID("candidate model version"),
      suiteVersionId: ID("suite version"),
      baseline: z.string().max(64).optional().describe("An alias (production) or a model version id to compare with."),
    },
    run: (args, ctx) => ctx.call("model.gate", args),
  }),
  tool({
    name: "project_dashboard",
    title: "Read a project's dashboard figures",
    description: "Reads a project's dashboard figures: pass rates per model version and suite, policy coverage, recent regressions, compute used.",
    procedures: ["dashboard.project"],
    readOnly: true,
    input: { projectId: ID("project") },
    run: (args, ctx) => ctx.call("dashboard.project", args),
  }),
];

/** Records also readable as MCP resources (by URI), each through one read procedure. */
export interface ResourceDefinition {
  name: string;
  title: string;
  description: string;
  /** An RFC 6570 template with one variable, the procedure's id field. */
  uriTemplate: string;
  procedure: string;
  idField: string;
  extraInput?: Record<string, unknown>;
}

export const MCP_RESOURCES: readonly ResourceDefinition[] = [
  { name: "suite", title: "Eval suite", description: "An eval suite: live draft cases, problems, thresholds and published versions (as get_suite).", uriTemplate: "hearth://suites/{suiteId}", procedure: "suite.get", idField: "suiteId" },
  { name: "policy", title: "Policy", description: "A policy: live draft text, its clauses and published versions (as get_policy).", uriTemplate: "hearth://policies/{policyId}", procedure: "policy.get", idField: "policyId" },
  { name: "run", title: "Run", description: "A run: status, summary, suite and model versions or endpoint (as get_run).", uriTemplate: "hearth://runs/{runId}", procedure: "run.get", idField: "runId" },
  {
    name: "run-failures",
    title: "An eval run's failed cases",
    description: "The first 200 failed cases of an eval run, with outputs and grades (as get_run_results with onlyFailures).",
    uriTemplate: "hearth://runs/{runId}/failures",
    procedure: "run.results",
    idField: "runId",
    extraInput: { onlyFailures: true, limit: 200 },
  },
];
