// The closed set of things an audit entry can describe: one name per kind, so the log can be filtered
// by every type and each entry linked to its page ("EvalSuite" and "suite" cannot drift apart again).

export const AUDIT_RESOURCE_TYPES = [
  "Organization",
  "Project",
  "Membership",
  "Invite",
  "ApiKey",
  "User",
  "NodeToken",
  "Policy",
  "PolicyVersion",
  "EvalSuite",
  "SuiteVersion",
  "Dataset",
  "DatasetVersion",
  "Model",
  "ModelVersion",
  "ModelAlias",
  "PromotionRequest",
  "Run",
  "Endpoint",
  "ReviewQueue",
  "ReviewItem",
  "ReviewLabel",
  "EvalSchedule",
  "Notification",
  // An agent's call of an MCP tool (server/mcp): the tool's name is the resource id.
  "McpTool",
  // Co-editing sessions, recorded under the live document's kind.
  "policy",
  "suite",
] as const;

export type AuditResourceType = (typeof AUDIT_RESOURCE_TYPES)[number];

/** How the audit page names a resource type for people. */
export const AUDIT_RESOURCE_LABELS: Record<AuditResourceType, string> = {
  Organization: "Organization",
  Project: "Project",
  Membership: "Member",
  Invite: "Invitation",
  ApiKey: "API key",
  User: "User",
  NodeToken: "GPU node token",
  Policy: "Policy",
  PolicyVersion: "Policy version",
  EvalSuite: "Eval suite",
  SuiteVersion: "Suite version",
  Dataset: "Dataset",
  DatasetVersion: "Dataset version",
  Model: "Model",
  ModelVersion: "Model version",
  ModelAlias: "Model alias",
  PromotionRequest: "Promotion request",
  Run: "Run",
  Endpoint: "Endpoint",
  ReviewQueue: "Review queue",
  ReviewItem: "Review item",
  ReviewLabel: "Review label",
  EvalSchedule: "Schedule (drift watch)",
  Notification: "Notification",
  McpTool: "MCP tool (agent call)",
  policy: "Policy (co-editing session)",
  suite: "Eval suite (co-editing session)",
};

/** Actions recorded once per batch that the log shows folded into one entry per run of consecutive batches. */
export const GROUPED_AUDIT_ACTIONS = ["run.metrics", "run.results"] as const;
