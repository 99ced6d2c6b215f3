// "Make a case": an incident (a served request, an eval result, or pasted text) becomes a regression
// case in one step. The case is appended to the suite's live document, so editors who have it open see
// it at once, and carries its provenance in metadata: where it came from, who made it, when, and the
// output that went wrong.
import { randomBytes } from "node:crypto";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { actorId, actorLabel } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { ChatMessageSchema, EvalCaseSchema, type EvalCase } from "@/gpu/eval/case";
import { z } from "zod";
import { addCases } from "./service";

export type CaseSource = { kind: "served"; servedRequestId: string } | { kind: "result"; evalResultId: string } | { kind: "text" };

export interface CaseStart {
  input: EvalCase["input"];
  output: string;
  modelVersionId: string | null;
  /** An eval result's case: its expected output, graders, tags and clauses to start from. */
  from?: Partial<Pick<EvalCase, "expected" | "graders" | "tags" | "clauses">>;
}

const ChatInput = z.array(ChatMessageSchema).min(1);

/** What a served request's prompt was: chat messages (stored as JSON) or text. */
function servedInput(kind: string, prompt: string): EvalCase["input"] {
  if (kind !== "chat") return prompt;
  try {
    const parsed = ChatInput.safeParse(JSON.parse(prompt));
    if (parsed.success) return parsed.data;
  } catch {
    // not JSON: kept as text
  }
  return prompt;
}

/** The input and actual output a case starts from; the source must be in the suite's project. */
export async function caseStart(db: PrismaClient, projectId: string, source: CaseSource): Promise<CaseStart | null> {
  if (source.kind === "text") return null;
  if (source.kind === "served") {
    const served = await db.servedRequest.findUnique({ where: { id: source.servedRequestId }, select: { projectId: true, kind: true, prompt: true, output: true, modelVersionId: true } });
    if (!served || served.projectId !== projectId) throw new DomainError("NOT_FOUND", "Served request not found in this project.");
    return { input: servedInput(served.kind, served.prompt), output: served.output, modelVersionId: served.modelVersionId };
  }
  const result = await db.evalResult.findUnique({
    where: { id: source.evalResultId },
    select: { caseId: true, output: true, run: { select: { projectId: true, modelVersionId: true, suiteVersion: { select: { cases: true } } } } },
  });
  if (!result || result.run.projectId !== projectId) throw new DomainError("NOT_FOUND", "Eval result not found in this project.");
  const cases = (result.run.suiteVersion?.cases ?? []) as { id?: string }[];
  const original = EvalCaseSchema.safeParse(cases.find((c) => c.id === result.caseId));
  return {
    input: original.success ? original.data.input : "",
    output: result.output,
    modelVersionId: result.run.modelVersionId,
    from: original.success ? { expected: original.data.expected, graders: original.data.graders, tags: original.data.tags, clauses: original.data.clauses } : undefined,
  };
}

export interface MadeCase {
  id?: string;
  input: EvalCase["input"];
  expected?: string;
  graders: EvalCase["graders"];
  tags: string[];
  clauses: string[];
}

export async function makeCase(db: PrismaClient, actor: Actor, orgId: string, suiteId: string, source: CaseSource, made: MadeCase, actualOutput: string) {
  const suite = await db.evalSuite.findUniqueOrThrow({ where: { id: suiteId }, select: { projectId: true } });
  const start = await caseStart(db, suite.projectId, source);
  const provenance = {
    from: source.kind === "served" ? "served-request" : source.kind === "result" ? "eval-result" : "pasted-text",
    sourceId: source.kind === "served" ? source.servedRequestId : source.kind === "result" ? source.evalResultId : null,
    modelVersionId: start?.modelVersionId ?? null,
    // The served or evaluated output is the record; pasted text carries what the person pasted.
    actualOutput: start ? start.output : actualOutput,
    by: actorLabel(actor),
    byId: actorId(actor),
    at: new Date().toISOString(),
  };
  const candidate = {
    id: made.id ?? `incident-${randomBytes(4).toString("hex")}`,
    input: made.input,
    ...(made.expected !== undefined && made.expected !== "" ? { expected: made.expected } : {}),
    graders: made.graders,
    tags: made.tags,
    clauses: made.clauses,
    metadata: { provenance },
  };
  const parsed = EvalCaseSchema.safeParse(candidate);
  if (!parsed.success) throw new DomainError("BAD_REQUEST", `The case is not valid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "case"} ${i.message}`).join("; ")}.`);
  await addCases(db, actor, orgId, suiteId, [parsed.data], "append");
  await db.$transaction((tx) => recordAudit(tx, actor, { orgId, action: "suite.case.make", resourceType: "EvalSuite", resourceId: suiteId, after: { caseId: parsed.data.id, provenance } }));
  return { caseId: parsed.data.id, provenance };
}
