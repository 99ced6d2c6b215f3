// Live co-editing of policies and suites: the /yjs socket endpoint and the live-document service.
export { CollabServer, READ_ONLY_REASON, CLOSE_ACCESS_REVOKED, CLOSE_ROLE_CHANGED, type CollabServerOptions } from "./hub";
export { readLiveDocument, readLivePolicyClauses, seedDocumentIfEmpty } from "./service";
export { compactDocument } from "./store";
export { parseDocName, policyDocName, suiteDocName, type CollabDocRef, type CollabDocKind } from "./names";
export { caseFromMap, caseToMap, readCases, JSON_CASE_FIELDS, type LiveDocumentContent, type DraftCase } from "@/contracts/collab-doc";
export { editLiveDocument, replaceText, replaceCases, appendCases } from "./server-edit";
export { listDocumentHistory, type HistoryEntry, type HistoryPerson } from "./history";
