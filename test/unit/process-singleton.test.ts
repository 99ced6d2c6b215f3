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
    const copyA = await import("@/server/live/bus");
    vi.resetModules();
    const copyB = await import("@/server/live/bus");
    expect(copyB).not.toBe(copyA);
    // One live bus per database client, whichever copy of the module asks.
    const db = {} as Parameters<typeof copyA.liveBus>[0];
    expect(copyB.liveBus(db)).toBe(copyA.liveBus(db));
    expect(copyB.liveBus({} as typeof db)).not.toBe(copyA.liveBus(db));
  });
});
