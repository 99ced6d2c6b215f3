// The node's cache of loaded model versions (node-agent/model-cache.ts), with stand-in models that
// record their release.
import { describe, expect, it } from "vitest";
import { LoadedModelCache } from "@/node-agent/model-cache";

function fakeModel(id: string, released: string[]) {
  return { release: () => void released.push(id) };
}

describe("LoadedModelCache", () => {
  it("loads once, keeps the most recently used, and releases the oldest before loading another", async () => {
    const released: string[] = [];
    const loads: string[] = [];
    const cache = new LoadedModelCache<ReturnType<typeof fakeModel>>(2);
    const load = (id: string) => async () => {
      loads.push(id);
      expect(cache.ids().length).toBeLessThan(2); // room was made first
      return fakeModel(id, released);
    };
    const a = await cache.get("a", load("a"));
    expect(await cache.get("a", load("a"))).toBe(a);
    await cache.get("b", load("b"));
    await cache.get("a", load("a")); // a is now the most recent
    await cache.get("c", load("c"));
    expect(loads).toEqual(["a", "b", "c"]);
    expect(released).toEqual(["b"]);
    expect(cache.ids()).toEqual(["a", "c"]);
    cache.release();
    expect(released.sort()).toEqual(["a", "b", "c"]);
    expect(cache.ids()).toEqual([]);
  });

  it("keeps nothing when loading fails", async () => {
    const cache = new LoadedModelCache<ReturnType<typeof fakeModel>>(1);
    await expect(cache.get("bad", async () => Promise.reject(new Error("no tokenizer")))).rejects.toThrow("no tokenizer");
    expect(cache.ids()).toEqual([]);
  });
});
