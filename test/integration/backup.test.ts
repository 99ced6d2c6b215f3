// `hearth backup` / `hearth restore`: a populated workspace goes into one archive and comes back,
// every row and every artifact equal, on the embedded database and on PostgreSQL; no key goes in.
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPrismaClient, type PrismaClient } from "@/server/db/client";
import { applyMigrations } from "@/server/db/migrate";
import { FileArtifactStore } from "@/server/storage";
import { encryptSecret, endpointKeyContext } from "@/server/endpoints/crypto";
import { backupWorkspace, restoreWorkspace } from "@/server/backup/backup";
import { readTarEntries } from "@/server/backup/tar";
import { createBlankDatabase, TEST_DATABASE_KINDS, type BlankDatabase } from "../support/databases";
import { createOrgFixture } from "../support/fixtures";

const KEY_A = randomBytes(32).toString("base64");
const KEY_B = randomBytes(32).toString("base64");

async function tableRows(url: string): Promise<Record<string, string[]>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: tables } = await client.query<{ t: string }>(`SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() AND tablename <> '_prisma_migrations' ORDER BY 1`);
    const out: Record<string, string[]> = {};
    for (const { t } of tables) {
      // Every column but the cluster-local transaction id, in a stable order.
      const { rows } = await client.query<{ r: string }>(`SELECT (to_jsonb(x) - 'xid')::text AS r FROM "${t}" x`);
      out[t] = rows.map((r) => r.r).sort();
    }
    return out;
  } finally {
    await client.end();
  }
}

async function storeFile(store: FileArtifactStore, bytes: Buffer): Promise<string> {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const tmp = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "hearth-art-")), "f");
  fs.writeFileSync(tmp, bytes);
  await store.putFile(tmp, sha256);
  return sha256;
}

describe.each(TEST_DATABASE_KINDS)("backup and restore on %s", (kind) => {
  let source: BlankDatabase;
  let target: BlankDatabase;
  let db: PrismaClient;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-backup-test-"));
  const storeA = new FileArtifactStore(path.join(dir, "artifacts-a"));
  const storeB = new FileArtifactStore(path.join(dir, "artifacts-b"));
  const archive = path.join(dir, "workspace.tar");
  const files = [randomBytes(70_000), Buffer.from('{"prompt":"Hi","response":"Hello"}\n')];
  let endpointId = "";

  beforeAll(async () => {
    process.env.HEARTH_SECRET_KEY = KEY_A;
    source = await createBlankDatabase(kind);
    await applyMigrations(source.url);
    db = createPrismaClient(source.url);
    const f = await createOrgFixture(db);
    const [weights, pairs] = [await storeFile(storeA, files[0]), await storeFile(storeA, files[1])];
    const dv = await db.datasetVersion.create({ data: { datasetId: f.datasetId, version: 7, sha256: pairs, bytes: BigInt(files[1].length), lines: 1, createdById: f.users.OWNER.userId } });
    const parent = await db.modelVersion.create({ data: { modelId: f.modelId, version: 7, config: { arch: "llama" }, artifactSha256: weights, sizeBytes: BigInt(files[0].length), datasetVersionId: dv.id, policyVersionIds: [], suiteVersionIds: [f.suiteVersionId], createdById: f.users.OWNER.userId } });
    // A child created before its parent in id order would break a naive restore: lineage is kept.
    await db.modelVersion.create({ data: { id: "a0-child", modelId: f.modelId, version: 8, config: {}, parentId: parent.id, policyVersionIds: [], suiteVersionIds: [], createdById: f.users.OWNER.userId } });
    await db.collabUpdate.createMany({ data: [{ docName: "suite:x", update: Buffer.from([1, 2, 3, 250]) }, { docName: "suite:x", update: Buffer.from([0]) }] });
    await db.appSetting.createMany({ data: [{ key: "nextauth_secret", value: "must-not-travel" }, { key: "demo_seeded", value: "yes" }] });
    endpointId = f.endpointId;
    await db.endpoint.update({ where: { id: endpointId }, data: { keyCiphertext: encryptSecret("sk-upstream-key", endpointKeyContext(endpointId)) } });
    target = await createBlankDatabase(kind);
    await applyMigrations(target.url);
  });

  afterAll(async () => {
    await db?.$disconnect();
    await source?.drop();
    await target?.drop();
    delete process.env.HEARTH_SECRET_KEY;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("writes one archive with every table, the referenced artifacts and a manifest, and no key", async () => {
    const result = await backupWorkspace({ databaseUrl: source.url, store: storeA, outPath: archive });
    const names = (await readTarEntries(archive)).map((e) => e.name);
    expect(names).toContain("manifest.json");
    expect(names).toContain("db/ModelVersion.jsonl");
    expect(result.manifest.artifacts.map((a) => a.sha256).sort()).toEqual(files.map((b) => createHash("sha256").update(b).digest("hex")).sort());
    expect(result.manifest.tables.find((t) => t.name === "CollabUpdate")?.rows).toBe(2);
    const whole = fs.readFileSync(archive);
    expect(whole.includes(Buffer.from("must-not-travel"))).toBe(false);
    expect(whole.includes(Buffer.from("sk-upstream-key"))).toBe(false);
    expect(whole.includes(Buffer.from(KEY_A))).toBe(false);
    await expect(backupWorkspace({ databaseUrl: source.url, store: storeA, outPath: archive })).rejects.toThrow(/already exists/);
  });

  it("restores every row and artifact into an empty database, and lists the secrets another key cannot read", async () => {
    process.env.HEARTH_SECRET_KEY = KEY_B;
    const result = await restoreWorkspace({ databaseUrl: target.url, store: storeB, archivePath: archive });
    expect(result.unreadableSecrets).toEqual([{ endpointId, name: expect.any(String) }]);
    const [a, b] = [await tableRows(source.url), await tableRows(target.url)];
    a.AppSetting = a.AppSetting.filter((r) => !r.includes("nextauth_secret"));
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const table of Object.keys(a)) expect(b[table], table).toEqual(a[table]);
    expect(a.User.length).toBeGreaterThan(0);
    for (const bytes of files) {
      const sha = createHash("sha256").update(bytes).digest("hex");
      const chunks: Buffer[] = [];
      for await (const c of await storeB.open(sha)) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    }
    // New rows continue after the restored ids.
    const c = createPrismaClient(target.url);
    try {
      const before = await c.collabUpdate.aggregate({ _max: { id: true } });
      const added = await c.collabUpdate.create({ data: { docName: "suite:x", update: Buffer.from([9]) }, select: { id: true } });
      expect(added.id > before._max.id!).toBe(true);
    } finally {
      await c.$disconnect();
    }
  });

  it("refuses a database that is not empty, and a damaged archive, changing nothing", async () => {
    await expect(restoreWorkspace({ databaseUrl: target.url, store: storeB, archivePath: archive })).rejects.toThrow(/not empty/);
    const damaged = path.join(dir, "damaged.tar");
    const bytes = fs.readFileSync(archive);
    const at = bytes.indexOf(Buffer.from('"email"'));
    bytes[at + 2] ^= 0x01;
    fs.writeFileSync(damaged, bytes);
    const fresh = await createBlankDatabase(kind);
    try {
      await applyMigrations(fresh.url);
      await expect(restoreWorkspace({ databaseUrl: fresh.url, store: storeB, archivePath: damaged })).rejects.toThrow(/does not match its manifest hash/);
      const rows = await tableRows(fresh.url);
      expect(Object.values(rows).every((r) => r.length === 0)).toBe(true);
    } finally {
      await fresh.drop();
    }
  });
});
