// Generates the Prisma client without the native schema engine, which cannot be downloaded offline:
// the CLI only checks that the configured engine path exists, and generation does not run it.
import { spawnSync } from "node:child_process";
const result = spawnSync("npx", ["--no-install", "prisma", "generate"], {
  stdio: "inherit",
  env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: "/bin/false", PRISMA_HIDE_UPDATE_MESSAGE: "1" },
});
process.exit(result.status ?? 1);
