import { getDatabaseUrl, getDb } from "@/server/db/client";
import { migrationStatus } from "@/server/db/migrate";

export const dynamic = "force-dynamic";

/** Database reachability and migration state, for load balancers and operators. No secrets. */
export async function GET() {
  const started = performance.now();
  try {
    await getDb().$queryRawUnsafe("SELECT 1");
    const migrations = await migrationStatus(getDatabaseUrl()!);
    const healthy = migrations.pending.length === 0 && migrations.failed.length === 0;
    return Response.json(
      {
        status: healthy ? "ok" : "degraded",
        database: { reachable: true, latencyMs: Math.round(performance.now() - started) },
        migrations: { applied: migrations.applied.length, pending: migrations.pending, failed: migrations.failed },
      },
      { status: healthy ? 200 : 503 },
    );
  } catch (err) {
    console.error("[hearth] health check failed:", err);
    return Response.json({ status: "error", database: { reachable: false } }, { status: 503 });
  }
}
