// `npx hearth reset-password <email>`: a new random password for an account, for an operator with
// access to the server (the demo account's password, or a person locked out). It ends the account's
// sessions and clears its failed sign-ins; for the demo account the kept demo sign-in file is updated.
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import type { PrismaClient } from "@/server/db/generated/client";
import { hashPassword } from "@/server/auth/password";
import { endUserSessions } from "@/server/auth/sessions";
import { clearFailures } from "@/server/auth/rate-limit";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { demoSignInFile, readDemoSignIn } from "@/server/seed";

export async function resetPassword(db: PrismaClient, emailInput: string, options: { dataDir?: string } = {}): Promise<{ email: string; password: string; endedSessions: number }> {
  const email = emailInput.trim().toLowerCase();
  const user = await db.user.findUnique({ where: { email }, select: { id: true, email: true, name: true } });
  if (!user) throw new DomainError("NOT_FOUND", `No account has the email ${email}.`);
  const password = randomBytes(15).toString("base64url");
  const passwordHash = await hashPassword(password);
  const endedSessions = await db.$transaction(async (tx) => {
    await tx.user.update({ where: { id: user.id }, data: { passwordHash } });
    const ended = await endUserSessions(tx, user.id);
    await recordAudit(tx, { type: "system" }, { orgId: null, action: "user.resetPassword", resourceType: "User", resourceId: user.id, after: { email, endedSessions: ended } });
    return ended;
  });
  await clearFailures(db, "signin:account", email);
  if (options.dataDir && (await readDemoSignIn(options.dataDir))?.email === email) {
    await fs.writeFile(demoSignInFile(options.dataDir), JSON.stringify({ email, password }), { mode: 0o600 });
  }
  return { email, password, endedSessions };
}
