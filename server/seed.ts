import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { PrismaClient } from "@/server/db/generated/client";
import { hashPassword } from "@/server/auth/password";
import { recordAudit } from "@/server/audit/service";
import type { ArtifactStore } from "@/server/storage";
import { seedDemoContent } from "@/server/demo/content";

export const DEMO_EMAIL = "demo@hearth.local";
const DEMO_FILE = "demo-sign-in.json";

export interface DemoSignIn {
  email: string;
  password: string;
}

/** What a start says about the demo sign-in: the password only on the start that created it. */
export interface DemoNotice {
  email: string;
  /** Set only on the first start (the one that seeded the demo). */
  password: string | null;
  /** Where the password is kept (mode 0600). */
  file: string;
}

export function demoSignInFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), DEMO_FILE);
}

/** The lines a start prints about the demo sign-in. */
export function demoBanner(demo: DemoNotice): string[] {
  const reset = `npx hearth reset-password ${demo.email}`;
  return demo.password
    ? [`Demo sign-in: ${demo.email} / ${demo.password}`, `(shown only now; kept in ${demo.file}, mode 0600; reset it with: ${reset})`]
    : [`Demo sign-in: ${demo.email}; the password is kept in ${demo.file} (mode 0600); reset it with: ${reset}`];
}

/**
 * Seeds the demo organization, project and user exactly once per database: a marker row is inserted in
 * the same transaction, so a restart (or a second instance) never seeds again, even if the demo
 * organization was since deleted. The generated password is printed on the start that creates it and
 * kept only in the data directory (mode 0600); later starts say where it is and how to reset it, so
 * start logs (often collected and kept) do not repeat it.
 */
export async function seedDemoOnce(db: PrismaClient, dataDir: string, options: { store?: ArtifactStore } = {}): Promise<DemoNotice | null> {
  const password = `demo-${randomBytes(9).toString("base64url")}`;
  const passwordHash = await hashPassword(password);
  const seeded = await db.$transaction(async (tx) => {
    const marker = await tx.appSetting.createMany({ data: [{ key: "demo_seeded", value: new Date().toISOString() }], skipDuplicates: true });
    if (marker.count === 0) return null;
    const user = await tx.user.create({ data: { email: DEMO_EMAIL, name: "Demo User", passwordHash }, select: { id: true, email: true, name: true } });
    const org = await tx.organization.create({
      data: { name: "Demo Organization", slug: "demo", memberships: { create: { userId: user.id, role: "OWNER" } } },
      select: { id: true, name: true, slug: true },
    });
    const project = await tx.project.create({
      data: { orgId: org.id, name: "Support Assistant", slug: "support-assistant", description: "Evaluate and fine-tune the customer support model against the support policy: refunds, tone, privacy, shipping and escalation." },
      select: { id: true, name: true, slug: true },
    });
    const system = { type: "system" as const };
    await recordAudit(tx, system, { orgId: org.id, action: "org.create", resourceType: "Organization", resourceId: org.id, after: org });
    await recordAudit(tx, system, { orgId: org.id, action: "project.create", resourceType: "Project", resourceId: project.id, after: project });
    return { user, orgId: org.id, projectId: project.id };
  });
  if (seeded) {
    // The project's content goes in through the ordinary services (several transactions, co-edited
    // documents, an artifact store); a failure leaves the demo organization usable and is said once.
    try {
      await seedDemoContent(db, { type: "user", userId: seeded.user.id, email: seeded.user.email, name: seeded.user.name }, seeded.orgId, seeded.projectId, options.store);
    } catch (error) {
      console.warn(`The demo project's policy, suite, datasets and models could not all be created (${(error as Error).message}); the demo sign-in works, and they can be added by hand.`);
    }
  }
  const file = demoSignInFile(dataDir);
  if (seeded) {
    await fs.mkdir(dataDir, { recursive: true });
    await fs.writeFile(file, JSON.stringify({ email: DEMO_EMAIL, password }), { mode: 0o600 });
    return { email: DEMO_EMAIL, password, file };
  }
  const kept = await readDemoSignIn(dataDir);
  return kept ? { email: kept.email, password: null, file } : null;
}

export async function readDemoSignIn(dataDir: string): Promise<DemoSignIn | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(dataDir, DEMO_FILE), "utf8")) as DemoSignIn;
  } catch {
    return null;
  }
}
