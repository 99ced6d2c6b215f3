import type { PrismaClient } from "@/server/db/generated/client";
import { recordAudit } from "@/server/audit/service";

/**
 * The Hearth user for an OpenID Connect identity: the linked account if known; else an existing user
 * with the same email, linked only when the provider says the email is verified; else a new user.
 */
export async function linkOidcUser(
  db: PrismaClient,
  identity: { subject: string; email: string; emailVerified: boolean; name: string },
): Promise<string> {
  const provider = "oidc";
  const linked = await db.account.findUnique({
    where: { provider_providerAccountId: { provider, providerAccountId: identity.subject } },
    select: { userId: true },
  });
  if (linked) return linked.userId;
  const email = identity.email.toLowerCase();
  return db.$transaction(async (tx) => {
    const existing = await tx.user.findUnique({ where: { email }, select: { id: true, email: true, name: true } });
    if (existing && !identity.emailVerified) {
      throw new Error("SSO sign-in refused: the provider did not verify this email, which belongs to an existing account");
    }
    const user = existing ?? (await tx.user.create({ data: { email, name: identity.name }, select: { id: true, email: true, name: true } }));
    await tx.account.create({ data: { userId: user.id, provider, providerAccountId: identity.subject } });
    await recordAudit(tx, { type: "user", userId: user.id, email: user.email, name: user.name }, {
      orgId: null,
      action: existing ? "user.linkSso" : "user.signUpSso",
      resourceType: "User",
      resourceId: user.id,
      after: { ...user, provider, subject: identity.subject },
    });
    return user.id;
  });
}
