// A member's notifications (drift alerts, server/schedules/alerts.ts): each is one person's own. A
// person sees only theirs, and only from organizations they still belong to.
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";

const stillMember = (userId: string) => ({ userId, project: { org: { memberships: { some: { userId } } } } });

export async function listNotifications(db: PrismaClient, userId: string, options: { unreadOnly: boolean; cursor?: string; limit: number }) {
  const where = { ...stillMember(userId), ...(options.unreadOnly ? { readAt: null } : {}) };
  const [items, unread] = await Promise.all([
    db.notification.findMany({
      where,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: options.limit,
      ...(options.cursor ? { cursor: { id: options.cursor }, skip: 1 } : {}),
      select: { id: true, kind: true, title: true, body: true, link: true, readAt: true, createdAt: true, projectId: true, project: { select: { name: true, orgId: true } } },
    }),
    db.notification.count({ where: { ...stillMember(userId), readAt: null } }),
  ]);
  return { items, unread };
}

/** Marks the caller's own notifications read: the ids given (others' ids are ignored), or all of them. */
export async function markNotificationsRead(db: PrismaClient, actor: Actor & { type: "user" }, input: { ids?: string[]; all?: boolean }, now = new Date()) {
  return db.$transaction(async (tx) => {
    const { count } = await tx.notification.updateMany({
      where: { userId: actor.userId, readAt: null, ...(input.all ? {} : { id: { in: input.ids ?? [] } }) },
      data: { readAt: now },
    });
    await recordAudit(tx, actor, { orgId: null, action: "notification.read", resourceType: "Notification", resourceId: actor.userId, after: { marked: count, all: input.all === true } });
    return { marked: count };
  });
}
