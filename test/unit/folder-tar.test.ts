// A folder packed as one ustar file: round trip, long nested names, standard `tar` reads it, and
// damaged or truncated archives are refused with a message.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isTar, memoryFolderReader, readTar, TarError, writeTar } from "@/gpu/io/tar";

const enc = new TextEncoder();
const files: Array<[string, Uint8Array]> = [
  ["config.json", enc.encode('{"model_type":"llama"}')],
  ["model.safetensors", Uint8Array.from({ length: 1500 }, (_, i) => i % 251)],
  ["adapter/adapter_config.json", enc.encode("{}")],
  [`${"deep/".repeat(30)}name.bin`, new Uint8Array(0)],
];

describe("folder archives", () => {
  it("round-trips files byte for byte, in order", () => {
    const tar = writeTar(files);
    expect(isTar(tar)).toBe(true);
    expect(tar.length % 512).toBe(0);
    const back = readTar(tar);
    expect([...back.keys()]).toEqual(files.map(([n]) => n));
    for (const [n, b] of files) expect(Buffer.from(back.get(n)!).equals(Buffer.from(b))).toBe(true);
  });

  it("is read by the system's tar", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-tar-"));
    try {
      fs.writeFileSync(path.join(dir, "a.tar"), writeTar(files));
      const listed = execFileSync("tar", ["-tf", path.join(dir, "a.tar")], { encoding: "utf8" }).trim().split("\n");
      expect(listed).toEqual(files.map(([n]) => n));
      execFileSync("tar", ["-xf", "a.tar"], { cwd: dir });
      expect(fs.readFileSync(path.join(dir, "model.safetensors")).equals(Buffer.from(files[1][1]))).toBe(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a truncated or damaged archive", () => {
    const tar = writeTar(files);
    expect(() => readTar(tar.subarray(0, 1000))).toThrow(/truncated/);
    expect(() => readTar(tar.subarray(0, tar.length - 1024))).toThrow(/truncated/);
    const bad = tar.slice();
    bad[3] ^= 0xff;
    expect(() => readTar(bad)).toThrow(TarError);
    expect(isTar(new Uint8Array(600))).toBe(false);
  });

  it("serves the files as a folder", async () => {
    const reader = memoryFolderReader(readTar(writeTar(files)));
    expect(await reader.has("config.json")).toBe(true);
    expect(await reader.readJson("config.json")).toEqual({ model_type: "llama" });
    expect([...(await reader.readRange("model.safetensors", 10, 13))]).toEqual([10, 11, 12]);
    await expect(reader.size("nope")).rejects.toThrow(/no nope/);
  });
});
