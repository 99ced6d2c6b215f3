// A policy's clauses and their ids: see contracts/policy-clauses.ts (shared with the editor).
export { clauseBodies, clauseProblems, documentClauses, parseClauses, syncClauseAnchors, type Clause } from "@/contracts/policy-clauses";
