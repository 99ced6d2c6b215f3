// Document history of live-edited policies and suites (who changed what, when: sessions, publishes, API edits).
import { z } from "zod";
import { router } from "@/server/trpc/init";
import { resourceProcedure } from "@/server/trpc/procedures";
import { listDocumentHistory } from "./history";
import { parseDocName, policyDocName, suiteDocName } from "./names";

const historyInput = z.object({ limit: z.number().int().min(1).max(500).default(100) });

export const collabRouter = router({
  history: resourceProcedure("policy", "VIEWER", "policies:read")
    .input(historyInput)
    .query(({ ctx, input }) => listDocumentHistory(ctx.db, parseDocName(policyDocName(input.policyId))!, input.limit)),
  suiteHistory: resourceProcedure("suite", "VIEWER", "suites:read")
    .input(historyInput)
    .query(({ ctx, input }) => listDocumentHistory(ctx.db, parseDocName(suiteDocName(input.suiteId))!, input.limit)),
});
