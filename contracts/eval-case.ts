// One eval case, one parser. The case model itself (EvalCase, its zod schema, the graders' specs)
// is the engine's (gpu/eval/case.ts: gpu/ imports nothing of ours); this is how the rest of Hearth
// names it and reads it back from stored JSON. A draft case, as co-edited and before validation, is
// `DraftCase` (contracts/collab-doc.ts).
import "@/gpu/eval/zod-config";
import { z } from "zod";
import { EvalCaseSchema, type EvalCase } from "@/gpu/eval/case";

export { ChatMessageSchema, EvalCaseSchema, type ChatMessage, type EvalCase } from "@/gpu/eval/case";

export class StoredCasesInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoredCasesInvalid";
  }
}

const StoredCases = z.array(EvalCaseSchema);

/**
 * Reads a published suite version's `cases` column. Cases were validated at publish, so a failure
 * here means the database was changed behind Hearth's back: it throws, naming the case and field.
 */
export function parseStoredCases(json: unknown): EvalCase[] {
  const parsed = StoredCases.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new StoredCasesInvalid(`A stored suite version holds an invalid case (at ${issue.path.join(".") || "(cases)"}: ${issue.message}).`);
}
