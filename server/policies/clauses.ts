// A policy's clauses and their ids: see contracts/policy-clauses.ts (shared with the editor).
export { clauseProblems, clauseSection, documentClauses, parseClauses, syncClauseAnchors, type Clause } from "@/contracts/policy-clauses";
