import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { PrismaClient } from "@/server/db/generated/client";
import { hashPassword } from "@/server/auth/password";
import { recordAudit } from "@/server/audit/service";

export const DEMO_EMAIL = "demo@hearth.local";
const DEMO_FILE = "demo-sign-in.json";

export interface DemoSignIn {
  email: string;
  password: string;
}

/**
 * Seeds the demo organization, project and user exactly once per database: a marker row is inserted in
 * the same transaction, so a restart (or a second instance) never seeds again, even if the demo
 * organization was since deleted. The generated password is kept only in the data directory (mode 0600)
 * so it can be printed at each start.
 */
export async function seedDemoOnce(db: PrismaClient, dataDir: string): Promise<DemoSignIn | null> {
  const password = `demo-${randomBytes(9).toString("base64url")}`;
  const passwordHash = await hashPassword(password);
  const seeded = await db.$transaction(async (tx) => {
    const marker = await tx.appSetting.createMany({ data: [{ key: "demo_seeded", value: new Date().toISOString() }], skipDuplicates: true });
    if (marker.count === 0) return false;
    const user = await tx.user.create({ data: { email: DEMO_EMAIL, name: "Demo User", passwordHash }, select: { id: true, email: true, name: true } });
    const org = await tx.organization.create({
      data: { name: "Demo Organization", slug: "demo", memberships: { create: { userId: user.id, role: "OWNER" } } },
      select: { id: true, name: true, slug: true },
    });
    const project = await tx.project.create({
      data: { orgId: org.id, name: "Support Assistant", slug: "support-assistant", description: "Evaluate and fine-tune the customer support model against the refund and privacy policies." },
      select: { id: true, name: true, slug: true },
    });
    const system = { type: "system" as const };
    await recordAudit(tx, system, { orgId: org.id, action: "org.create", resourceType: "Organization", resourceId: org.id, after: org });
    await recordAudit(tx, system, { orgId: org.id, action: "project.create", resourceType: "Project", resourceId: project.id, after: project });
    return true;
  });
  const file = path.join(dataDir, DEMO_FILE);
  if (seeded) {
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, JSON.stringify({ email: DEMO_EMAIL, password }), { mode: 0o600 });
  }
  return readDemoSignIn(dataDir);
}

export async function readDemoSignIn(dataDir: string): Promise<DemoSignIn | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(dataDir, DEMO_FILE), "utf8")) as DemoSignIn;
  } catch {
    return null;
  }
}
