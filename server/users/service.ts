import type { PrismaClient } from "@/server/db/generated/client";
import { hashPassword } from "@/server/auth/password";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";

export async function signUp(db: PrismaClient, input: { email: string; name: string; password: string }) {
  const email = input.email.toLowerCase();
  if (await db.user.findUnique({ where: { email }, select: { id: true } })) {
    throw new DomainError("CONFLICT", "An account with this email already exists. Sign in instead.");
  }
  const passwordHash = await hashPassword(input.password);
  return db.$transaction(async (tx) => {
    const user = await tx.user.create({ data: { email, name: input.name, passwordHash }, select: { id: true, email: true, name: true } });
    await recordAudit(tx, { type: "user", userId: user.id, email: user.email, name: user.name }, {
      orgId: null,
      action: "user.signUp",
      resourceType: "User",
      resourceId: user.id,
      after: user,
    });
    return user;
  });
}
