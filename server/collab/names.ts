// Collaborative document names: `policy:<policyId>` and `suite:<suiteId>`, served at /yjs/<name>.
export type CollabDocKind = "policy" | "suite";

export interface CollabDocRef {
  kind: CollabDocKind;
  id: string;
  name: string;
}

const DOC_NAME = /^(policy|suite):([A-Za-z0-9_-]{1,64})$/;

/** The document a name refers to, or null when the name is not one Hearth serves. */
export function parseDocName(name: string): CollabDocRef | null {
  const match = DOC_NAME.exec(name);
  if (!match) return null;
  return { kind: match[1] as CollabDocKind, id: match[2], name };
}

export function policyDocName(policyId: string): string {
  return `policy:${policyId}`;
}

export function suiteDocName(suiteId: string): string {
  return `suite:${suiteId}`;
}

/** The document name in an upgrade path `/yjs/<name>` (query string ignored), or null. */
export function docNameFromPath(pathname: string): string | null {
  if (!pathname.startsWith("/yjs/")) return null;
  try {
    return decodeURIComponent(pathname.slice("/yjs/".length));
  } catch {
    return null;
  }
}
