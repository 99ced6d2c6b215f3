import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBundleInChromium, type BrowserRun } from "./browser/harness";
import type { CheckResult } from "./browser/checks.entry";

describe("the engine inside headless Chromium (navigator.gpu)", () => {
  let run: BrowserRun;
  beforeAll(async () => {
    run = await openBundleInChromium({
      entry: path.join(import.meta.dirname, "browser/checks.entry.ts"),
      extraEntries: { worker: path.join(import.meta.dirname, "browser/worker.entry.ts") },
    });
  });
  afterAll(async () => {
    await run?.close();
  });

  it("acquires an adapter, selects a matmul variant and matches the CPU references", async () => {
    const out = await run.page.evaluate(async () => {
      const f = (globalThis as unknown as { __hearthRunChecks: () => Promise<{ adapter: unknown; variant?: string; results: CheckResult[] }> }).__hearthRunChecks;
      return f();
    });
    expect(out.variant).toMatch(/naive|blocked|texture/);
    expect(out.results.length).toBeGreaterThanOrEqual(15);
    const failed = out.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`);
    expect(failed).toEqual([]);
  });

  it("runs unchanged inside a Web Worker", async () => {
    const r = await run.page.evaluate(() => (globalThis as unknown as { __hearthRunWorker: () => Promise<CheckResult> }).__hearthRunWorker());
    expect(r.detail).toBe("231 values");
    expect(r.ok).toBe(true);
  });
});
