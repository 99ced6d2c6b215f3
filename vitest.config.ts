import { defineConfig } from "vitest/config";
import path from "node:path";

const alias = { "@": path.resolve(import.meta.dirname) };
const shared = {
  // Dawn, Chromium and the database harness hold native resources; forks isolate them per file.
  pool: "forks" as const,
  testTimeout: 120_000,
  hookTimeout: 300_000,
};

export default defineConfig({
  resolve: { alias },
  test: {
    maxWorkers: 2,
    projects: [
      { resolve: { alias }, test: { ...shared, name: "unit", include: ["test/unit/**/*.test.ts"] } },
      { resolve: { alias }, test: { ...shared, name: "gpu", include: ["test/gpu/**/*.test.ts"] } },
      {
        resolve: { alias },
        test: { ...shared, name: "integration", include: ["test/integration/**/*.test.ts"], globalSetup: ["test/support/databases.ts", "test/support/oracle-setup.ts"] },
      },
      {
        resolve: { alias },
        test: { ...shared, name: "oracle", include: ["test/oracle/**/*.test.ts"], globalSetup: ["test/support/oracle-setup.ts"] },
      },
      {
        resolve: { alias },
        test: { ...shared, name: "e2e", include: ["test/e2e/**/*.test.ts"], globalSetup: ["test/support/setup-app.ts", "test/support/oracle-setup.ts"] },
      },
    ],
  },
});
