// processSingleton: one instance per process even when a module is loaded twice, as Next's bundles
// and the custom server load Hearth's modules.
import { describe, expect, it, vi } from "vitest";
import { processSingleton } from "@/server/lib/process-singleton";

describe("processSingleton", () => {
  it("makes the instance once and returns it on every call", () => {
    const key = `hearth.test.${Math.random()}`;
    const make = vi.fn(() => ({ made: Date.now() }));
    const first = processSingleton(key, make);
    expect(processSingleton(key, make)).toBe(first);
    expect(make).toHaveBeenCalledTimes(1);
    expect(processSingleton(`${key}.other`, () => ({ other: true }))).not.toBe(first);
  });

  it("gives a second copy of a module (another bundle, a dev reload) the first copy's instance", async () => {
    const copyA = await import("@/server/runs/events");
    vi.resetModules();
    const copyB = await import("@/server/runs/events");
    expect(copyB).not.toBe(copyA);
    expect(copyB.metricEvents).toBe(copyA.metricEvents);
    const seen: unknown[] = [];
    copyA.metricEvents.on("run-1", (points) => seen.push(points));
    copyB.publishMetricPoints("run-1", [{ name: "loss", step: 1, value: 2 }]);
    expect(seen).toEqual([[{ name: "loss", step: 1, value: 2 }]]);
  });
});
