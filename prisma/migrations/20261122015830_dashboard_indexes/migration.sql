-- CreateIndex
CREATE INDEX "EvalResult_runId_caseId_pass_idx" ON "EvalResult"("runId", "caseId", "pass");
