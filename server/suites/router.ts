import { z } from "zod";
import { router } from "@/server/trpc/init";
import { recordAudit } from "@/server/audit/service";
import { projectProcedure, resourceProcedure } from "@/server/trpc/procedures";
import type { Prisma } from "@/server/db/generated/client";
import { exportSuiteCases, SUITE_EXPORT_FORMATS } from "./export";
import { addCases, createSuite, diffCases, getSuite, getSuiteVersion, listSuites, publishSuiteVersion, suiteSelect, updateSuite } from "./service";
import { importSuiteSource, SUITE_IMPORT_FORMATS } from "./import";
import { caseStart, makeCase } from "./make-case";
import { idSchema } from "@/contracts/zod";
import { roleAtLeast } from "@/contracts/roles";
import { deny } from "@/server/auth/access";
import { ChatMessageSchema, GraderSpecSchema } from "@/gpu/eval/case";
import { GRADER_CHOICES } from "@/gpu/eval/formats/grader-choice";
import { MAX_SOURCE_FILES } from "@/gpu/eval/formats/source-files";

const MAX_CASES = 20_000;
const name = z.string().trim().min(1, "is required").max(120, "must be at most 120 characters");
const description = z.string().trim().max(4_000);
const rate = z.number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1");
const thresholds = z.object({ overall: rate.optional(), tags: z.record(z.string().max(100), rate).optional(), countUncalibratedJudges: z.boolean().optional() });
const versionNumber = z.number().int().min(1);
const caseSource = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("served"), servedRequestId: idSchema }),
  z.object({ kind: z.literal("result"), evalResultId: idSchema }),
  z.object({ kind: z.literal("text") }),
]);
const caseText = z.string().max(100_000, "must be at most 100,000 characters");
const MAX_UPLOAD = 50_000_000;
const column = z.string().min(1).max(200);
/** One upload: a file's text, a folder's files or a zip (base64), with the choices the import dialog offers. */
const importSource = z
  .object({
    format: z.enum(SUITE_IMPORT_FORMATS),
    content: z.string().min(1, "the file is empty").max(MAX_UPLOAD, "must be at most 50 MB").optional(),
    fileName: z.string().max(300).optional(),
    files: z.array(z.object({ path: z.string().min(1).max(500), content: z.string().max(MAX_UPLOAD) })).min(1).max(MAX_SOURCE_FILES).optional(),
    zipBase64: z.string().min(1).max(Math.ceil((MAX_UPLOAD * 4) / 3) + 4, "the zip must be at most 50 MB").optional(),
    grader: z.enum(GRADER_CHOICES).optional(),
    csv: z.object({ input: column, expected: column.optional(), id: column.optional(), tags: column.optional() }).optional(),
  })
  .refine((s) => [s.content, s.files, s.zipBase64].filter((x) => x !== undefined).length === 1, { message: "send exactly one of content, files or zipBase64" })
  .refine((s) => !s.files || s.files.reduce((n, f) => n + f.content.length, 0) <= MAX_UPLOAD, { message: "the files must hold at most 50 MB together", path: ["files"] });

export const suiteRouter = router({
  list: projectProcedure("VIEWER", "suites:read").query(({ ctx }) => listSuites(ctx.db, ctx.projectId)),
  get: resourceProcedure("suite", "VIEWER", "suites:read").query(async ({ ctx, input }) => ({ ...(await getSuite(ctx.db, input.suiteId)), role: ctx.role })),
  create: projectProcedure("EDITOR", "suites:write")
    .input(z.object({ name, description: description.default("") }))
    .mutation(({ ctx, input }) => createSuite(ctx.db, ctx.actor, ctx.orgId, { projectId: ctx.projectId, name: input.name, description: input.description })),
  update: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(z.object({ name: name.optional(), description: description.optional(), thresholds: thresholds.optional() }))
    .mutation(async ({ ctx, input }) => {
      // Counting an uncalibrated judge's verdicts overrides the bar an ADMIN set: only an ADMIN changes it.
      if (input.thresholds && !roleAtLeast(ctx.role, "ADMIN")) {
        const stored = await ctx.db.evalSuite.findUniqueOrThrow({ where: { id: input.suiteId }, select: { thresholds: true } });
        const was = (stored.thresholds as { countUncalibratedJudges?: boolean } | null)?.countUncalibratedJudges === true;
        if ((input.thresholds.countUncalibratedJudges === true) !== was) deny("FORBIDDEN", "Only an admin can change whether the gate counts uncalibrated judges.");
      }
      const { draft: _draft, ...suite } = await updateSuite(ctx.db, ctx.actor, ctx.orgId, input.suiteId, { ...input, thresholds: input.thresholds as Prisma.InputJsonValue | undefined });
      return suite;
    }),
  /** Replaces the working copy's cases (API clients; people edit them live). Validated at publish. */
  setCases: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(z.object({ cases: z.array(z.record(z.string(), z.unknown())).max(MAX_CASES) }))
    .mutation(async ({ ctx, input }) => {
      const suite = await updateSuite(ctx.db, ctx.actor, ctx.orgId, input.suiteId, { cases: input.cases });
      return { caseCount: suite.draft.length };
    }),
  /** What an import would add (cases, graders mapped, notes, cases for review), writing nothing. */
  previewImport: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(importSource)
    .mutation(async ({ ctx, input }) => {
      const { suiteId, ...source } = input;
      const parsed = importSuiteSource(source);
      // The cases are not written; the audit log still says who tried which file on this suite.
      const { caseCount, reviewCaseIds, noteCount } = parsed.summary;
      await recordAudit(ctx.db, ctx.actor, { orgId: ctx.orgId, action: "suite.importPreview", resourceType: "EvalSuite", resourceId: suiteId, after: { format: source.format, fileName: source.fileName, caseCount, reviewCount: reviewCaseIds.length, noteCount } });
      return { summary: parsed.summary, firstCases: parsed.cases.slice(0, 20) };
    }),
  importCases: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(importSource.and(z.object({ mode: z.enum(["append", "replace"]).default("append") })))
    .mutation(async ({ ctx, input }) => {
      const { suiteId: _suiteId, mode, ...source } = input;
      const parsed = importSuiteSource(source);
      const suite = await addCases(ctx.db, ctx.actor, ctx.orgId, input.suiteId, parsed.cases, mode);
      return { imported: parsed.cases.length, caseCount: suite.draft.length, summary: parsed.summary, warnings: parsed.warnings };
    }),
  /** What "Make a case" starts from: the served request's or eval result's input and actual output. */
  caseSource: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(z.object({ source: caseSource }))
    .query(async ({ ctx, input }) => caseStart(ctx.db, ctx.projectId, input.source)),
  /** An incident becomes a case at the end of the live draft, with its provenance. */
  makeCase: resourceProcedure("suite", "EDITOR", "suites:write")
    .input(
      z.object({
        source: caseSource,
        case: z.object({
          id: z.string().max(100).optional(),
          input: z.union([caseText.min(1, "is required"), z.array(ChatMessageSchema).min(1).max(200)]),
          expected: caseText.optional(),
          graders: z.array(GraderSpecSchema).min(1, "pick at least one grader").max(20),
          tags: z.array(z.string().trim().min(1).max(100)).max(20).default([]),
          clauses: z.array(z.string().max(100)).max(20).default([]),
        }),
        actualOutput: caseText.default(""),
      }),
    )
    .mutation(({ ctx, input }) => makeCase(ctx.db, ctx.actor, ctx.orgId, input.suiteId, input.source, input.case, input.actualOutput)),
  publish: resourceProcedure("suite", "EDITOR", "suites:write", { agentKeys: false })
    .input(z.object({ message: z.string().trim().min(1, "describe what changed").max(500) }))
    .mutation(({ ctx, input }) => publishSuiteVersion(ctx.db, ctx.actor, ctx.orgId, input.suiteId, input.message)),
  version: resourceProcedure("suite", "VIEWER", "suites:read")
    .input(z.object({ version: versionNumber }))
    .query(({ ctx, input }) => getSuiteVersion(ctx.db, input.suiteId, input.version)),
  diff: resourceProcedure("suite", "VIEWER", "suites:read")
    .input(z.object({ from: z.union([versionNumber, z.literal("empty")]), to: z.union([versionNumber, z.literal("draft")]) }))
    .query(async ({ ctx, input }) => {
      const before = input.from === "empty" ? [] : (await getSuiteVersion(ctx.db, input.suiteId, input.from)).cases;
      const after = input.to === "draft" ? (await getSuite(ctx.db, input.suiteId)).draft : (await getSuiteVersion(ctx.db, input.suiteId, input.to)).cases;
      return diffCases(before as { id?: unknown }[], after as { id?: unknown }[]);
    }),
  exportVersion: resourceProcedure("suiteVersion", "VIEWER", "suites:read")
    .input(z.object({ format: z.enum(SUITE_EXPORT_FORMATS).optional() }))
    .query(async ({ ctx, input }) => {
      const version = await ctx.db.suiteVersion.findUniqueOrThrow({ where: { id: input.suiteVersionId }, select: { version: true, suite: { select: suiteSelect } } });
      const { cases } = await getSuiteVersion(ctx.db, version.suite.id, version.version);
      return exportSuiteCases(cases, input.format ?? "hearth-jsonl", `${version.suite.name.replace(/[^\w.-]+/g, "_")}-v${version.version}`, `${version.suite.name} v${version.version}`);
    }),
});
