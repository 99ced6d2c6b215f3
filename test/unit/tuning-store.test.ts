// The GPU node's file of measured kernel choices (node-agent/tuning-store.ts).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileTuningStore } from "@/node-agent/tuning-store";

describe("fileTuningStore", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-tuning-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("keeps choices across restarts, merges two nodes' choices in one file, and reads the file once", () => {
    const file = path.join(dir, "nested", "tuning.json");
    const a = fileTuningStore(file);
    const b = fileTuningStore(file);
    expect(a.get("matmul:x")).toBeUndefined();
    a.set("matmul:x", "blocked");
    b.set("matmul:y", "texture");
    expect(JSON.parse(fs.readFileSync(file, "utf8"))).toEqual({ "matmul:x": "blocked", "matmul:y": "texture" });
    const restarted = fileTuningStore(file);
    expect([restarted.get("matmul:x"), restarted.get("matmul:y")]).toEqual(["blocked", "texture"]);
    // Later edits to the file are not re-read by a store that has read it.
    fs.writeFileSync(file, "{}");
    expect(restarted.get("matmul:x")).toBe("blocked");
  });

  it("measures again when the file is unreadable", () => {
    const file = path.join(dir, "broken.json");
    fs.writeFileSync(file, "{not json");
    expect(fileTuningStore(file).get("matmul:x")).toBeUndefined();
  });
});
