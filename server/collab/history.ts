// Document history: who changed a policy or suite, how and when. Merges three sources, newest first:
// live editing sessions (`collab.session` audit entries), published versions (PolicyVersion /
// SuiteVersion with their author) and API edits (`policy.update` / `suite.update` audit entries).
import type { PrismaClient } from "@/server/db/client";
import type { CollabDocRef } from "./names";

export interface HistoryPerson {
  id: string;
  /** The person's name, or null for API keys and deleted users. */
  name: string | null;
  /** What the audit log recorded (an email, or an API key's label). */
  label: string;
}

export type HistoryEntry =
  | { kind: "session"; at: Date; who: HistoryPerson; connectedAt: Date; disconnectedAt: Date; updates: number; role: string }
  | { kind: "publish"; at: Date; who: HistoryPerson; version: number; message: string }
  | { kind: "edit"; at: Date; who: HistoryPerson; changed: string[] };

/** How each kind of document is recorded in the audit log by the API that edits it. */
const AUDIT_NAMES = {
  policy: { resourceType: "Policy", edit: "policy.update", publish: "policy.publish", publishedType: "PolicyVersion" },
  suite: { resourceType: "EvalSuite", edit: "suite.update", publish: "suite.publish", publishedType: "SuiteVersion" },
} as const;

type Json = Record<string, unknown>;

/** The fields an API edit changed, from the audit entry's before/after (suites record a case count, not the cases). */
function changedFields(before: unknown, after: unknown): string[] {
  const b = (before ?? {}) as Json;
  const a = (after ?? {}) as Json;
  const ignored = new Set(["id", "projectId", "updatedAt", "createdAt", "createdById"]);
  const keys = new Set([...Object.keys(b), ...Object.keys(a)].filter((k) => !ignored.has(k)));
  return [...keys].filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k])).sort();
}

async function readPublishes(db: PrismaClient, ref: CollabDocRef, limit: number) {
  const select = { id: true, version: true, message: true, authorId: true, createdAt: true } as const;
  return ref.kind === "policy"
    ? db.policyVersion.findMany({ where: { policyId: ref.id }, orderBy: { version: "desc" }, take: limit, select })
    : db.suiteVersion.findMany({ where: { suiteId: ref.id }, orderBy: { version: "desc" }, take: limit, select });
}

/** The document's history, newest first, at most `limit` entries. */
export async function listDocumentHistory(db: PrismaClient, ref: CollabDocRef, limit = 100): Promise<HistoryEntry[]> {
  const names = AUDIT_NAMES[ref.kind];
  const [sessions, edits, versions] = await Promise.all([
    db.auditLog.findMany({
      where: { action: "collab.session", resourceType: ref.kind, resourceId: ref.id },
      orderBy: { createdAt: "desc" },
      take: limit,
      select: { createdAt: true, actorId: true, actorLabel: true, after: true },
    }),
    db.auditLog.findMany({
      where: { action: names.edit, resourceType: names.resourceType, resourceId: ref.id },
      orderBy: { createdAt: "desc" },
      take: limit,
      select: { createdAt: true, actorId: true, actorLabel: true, before: true, after: true },
    }),
    readPublishes(db, ref, limit),
  ]);
  // A version's author id is a user's or an API key's; the publish audit entry has the label for either.
  const publishLabels = new Map(
    (
      await db.auditLog.findMany({
        where: { action: names.publish, resourceType: names.publishedType, resourceId: { in: versions.map((v) => v.id) } },
        select: { resourceId: true, actorLabel: true },
      })
    ).map((row) => [row.resourceId, row.actorLabel]),
  );
  const personIds = new Set([...sessions, ...edits].map((row) => row.actorId).concat(versions.map((v) => v.authorId)));
  const users = new Map(
    (await db.user.findMany({ where: { id: { in: [...personIds] } }, select: { id: true, name: true, email: true } })).map((u) => [u.id, u]),
  );
  const person = (id: string, recorded: string | undefined): HistoryPerson => {
    const user = users.get(id);
    return { id, name: user?.name ?? null, label: recorded ?? user?.email ?? id };
  };

  const entries: HistoryEntry[] = [
    ...sessions.map((row): HistoryEntry => {
      const after = (row.after ?? {}) as Json;
      return {
        kind: "session",
        at: row.createdAt,
        who: person(row.actorId, row.actorLabel),
        connectedAt: new Date(String(after.connectedAt ?? row.createdAt.toISOString())),
        disconnectedAt: new Date(String(after.disconnectedAt ?? row.createdAt.toISOString())),
        updates: Number(after.updates ?? 0),
        role: String(after.role ?? ""),
      };
    }),
    ...versions.map((v): HistoryEntry => ({ kind: "publish", at: v.createdAt, who: person(v.authorId, publishLabels.get(v.id)), version: v.version, message: v.message })),
    ...edits.map((row): HistoryEntry => ({ kind: "edit", at: row.createdAt, who: person(row.actorId, row.actorLabel), changed: changedFields(row.before, row.after) })),
  ];
  return entries.sort((a, b) => b.at.getTime() - a.at.getTime()).slice(0, limit);
}
