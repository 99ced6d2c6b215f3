import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "@/gpu/eval/hash";

describe("canonicalJson", () => {
  it.each([
    [{ b: 1, a: [true, null, "x"], c: { z: 1, y: 2 } }, '{"a":[true,null,"x"],"b":1,"c":{"y":2,"z":1}}'],
    [{ a: undefined, b: 2 }, '{"b":2}'],
    [[undefined], "[null]"],
    ["é\n\"", '"é\\n\\""'],
    [{ "é": 1, z: 2, A: 3 }, '{"A":3,"z":2,"é":1}'],
    [-0.5, "-0.5"],
  ])("%j -> %s", (value, json) => {
    expect(canonicalJson(value)).toBe(json);
  });

  it("is independent of key insertion order", () => {
    expect(canonicalJson({ x: 1, y: { p: 1, q: 2 } })).toBe(canonicalJson({ y: { q: 2, p: 1 }, x: 1 }));
  });

  it.each([NaN, Infinity])("refuses %s", (n) => {
    expect(() => canonicalJson({ n })).toThrow(/not representable/);
  });
});

describe("sha256Hex", () => {
  it.each(["", "abc", "héllo 🌍"])("matches Node's sha256 for %j", async (text) => {
    expect(await sha256Hex(text)).toBe(createHash("sha256").update(text, "utf8").digest("hex"));
  });
});
