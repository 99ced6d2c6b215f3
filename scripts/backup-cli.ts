// `npx hearth backup [--out FILE]` and `npx hearth restore FILE`: the whole workspace (database and
// artifacts) into one archive and back (server/backup/backup.ts). Uses DATABASE_URL, or the embedded
// database in $HEARTH_DATA_DIR/pglite (default ./data), which only one process may open: stop
// Hearth first. Artifacts come from the same store the server uses (files or S3).
import path from "node:path";
import { parseArgs } from "node:util";
import { startDatabase } from "@/server/db";
import { EmbeddedDatabaseLockedError } from "@/server/db/embedded";
import { getArtifactStore } from "@/server/storage";
import { backupWorkspace, BackupError, restoreWorkspace } from "@/server/backup/backup";

export const BACKUP_USAGE = `Usage: hearth backup [--out <file.tar>]     write the database and artifacts into one archive
       hearth restore <file.tar>            bring an archive back into an empty database and data folder

Database: DATABASE_URL, or the embedded one in $HEARTH_DATA_DIR (default ./data; stop Hearth first).
No key is archived: keep HEARTH_SECRET_KEY (or $HEARTH_DATA_DIR/secret.key) and the session secret apart.
Exit status: 0 done, 1 it failed (nothing half-written), 2 bad usage.`;

async function openWorkspace(): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = path.resolve(process.env.HEARTH_DATA_DIR ?? "data");
  process.env.HEARTH_DATA_DIR = dataDir; // the artifact store and the key file live beside the database
  try {
    return await startDatabase({ dataDir: path.join(dataDir, "pglite") });
  } catch (error) {
    if (error instanceof EmbeddedDatabaseLockedError) throw new BackupError(`${error.message}\nStop Hearth, then run this again.`);
    throw error;
  }
}

export async function runBackupCommand(command: "backup" | "restore", argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { out: { type: "string" }, help: { type: "boolean", default: false } }, allowPositionals: true, strict: true });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${BACKUP_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(BACKUP_USAGE);
    return 0;
  }
  const archive = command === "backup" ? path.resolve(parsed.values.out ?? `hearth-backup-${new Date().toISOString().replace(/[:.]/g, "-")}.tar`) : parsed.positionals[0];
  if (command === "restore" && (!archive || parsed.positionals.length !== 1)) {
    console.error(BACKUP_USAGE);
    return 2;
  }
  let db: { url: string; stop(): Promise<void> } | undefined;
  try {
    db = await openWorkspace();
    const store = getArtifactStore();
    const progress = (line: string) => console.log(`  ${line}`);
    if (command === "backup") {
      const { manifest, bytes } = await backupWorkspace({ databaseUrl: db.url, store, outPath: archive, onProgress: progress });
      const rows = manifest.tables.reduce((n, t) => n + t.rows, 0);
      console.log(`Wrote ${archive} (${(bytes / 1e6).toFixed(1)} MB): ${rows} rows in ${manifest.tables.length} tables, ${manifest.artifacts.length} artifacts.`);
      console.log(`Not archived: ${manifest.excluded.join("; ")}.`);
    } else {
      const result = await restoreWorkspace({ databaseUrl: db.url, store, archivePath: path.resolve(archive), onProgress: progress });
      console.log(`Restored ${result.rows} rows and ${result.artifacts} artifacts from the backup of ${result.manifest.createdAt}.`);
      if (result.unreadableSecrets.length) {
        console.log(`These endpoints' API keys were encrypted under another HEARTH_SECRET_KEY and cannot be read; enter them again on the Endpoints page (or restore with the original key):`);
        for (const s of result.unreadableSecrets) console.log(`  ${s.name} (${s.endpointId})`);
      }
    }
    return 0;
  } catch (error) {
    console.error(error instanceof BackupError ? error.message : `${command} failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await db?.stop();
  }
}
