// HF folders read tensor by tensor through a FolderReader: one file or shards listed by
// model.safetensors.index.json, raw 16-bit bytes kept as they are, errors that say what is wrong.
import { describe, expect, it } from "vitest";
import { blobFolderReader, hfWeightFiles, streamHFFolder, type FolderReader } from "@/gpu/io/hf-folder";
import { encodeSafetensors, type TensorToWrite } from "@/gpu/io/safetensors";

const bf16 = (vals: number[]) => new Uint8Array(Uint16Array.from(vals).buffer);

function folder(files: Record<string, Uint8Array | string>): FolderReader {
  return blobFolderReader(new Map(Object.entries(files).map(([k, v]) => [k, new Blob([v as BlobPart])])));
}

async function all(reader: FolderReader) {
  const out: Array<{ name: string; dtype: string; shape: number[]; bytes: number[]; file: string }> = [];
  for await (const t of streamHFFolder(reader)) out.push({ ...t, bytes: Array.from(t.bytes) });
  return out;
}

describe("HF folders", () => {
  const a = encodeSafetensors(new Map([["model.embed_tokens.weight", { dtype: "BF16" as const, shape: [2, 2], bytes: bf16([0x3f80, 0x4000, 0xbf80, 0x0001]) }]]));
  const b = encodeSafetensors(
    new Map<string, TensorToWrite>([
      ["model.norm.weight", { shape: [2], data: Float32Array.from([1.5, -2]) }],
      ["lm_head.weight", { dtype: "F16", shape: [1, 3], bytes: bf16([0x3c00, 0x0001, 0xfc00]) }],
    ]),
  );

  it("streams one model.safetensors", async () => {
    const ts = await all(folder({ "model.safetensors": a, "config.json": "{}" }));
    expect(ts).toEqual([{ name: "model.embed_tokens.weight", dtype: "BF16", shape: [2, 2], bytes: Array.from(bf16([0x3f80, 0x4000, 0xbf80, 0x0001])), file: "model.safetensors" }]);
  });

  it("streams the shards an index names, each tensor with its raw bytes", async () => {
    const index = { metadata: {}, weight_map: { "model.embed_tokens.weight": "model-00001-of-00002.safetensors", "model.norm.weight": "model-00002-of-00002.safetensors", "lm_head.weight": "model-00002-of-00002.safetensors" } };
    const r = folder({ "model.safetensors.index.json": JSON.stringify(index), "model-00001-of-00002.safetensors": a, "model-00002-of-00002.safetensors": b });
    expect(await hfWeightFiles(r)).toEqual(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
    const ts = await all(r);
    expect(ts.map((t) => [t.name, t.dtype, t.file])).toEqual([
      ["model.embed_tokens.weight", "BF16", "model-00001-of-00002.safetensors"],
      ["model.norm.weight", "F32", "model-00002-of-00002.safetensors"],
      ["lm_head.weight", "F16", "model-00002-of-00002.safetensors"],
    ]);
    expect(ts[2].bytes).toEqual(Array.from(bf16([0x3c00, 0x0001, 0xfc00])));
    expect(new Float32Array(Uint8Array.from(ts[1].bytes).buffer)).toEqual(Float32Array.from([1.5, -2]));
  });

  it("says what is wrong", async () => {
    await expect(all(folder({ "config.json": "{}" }))).rejects.toThrow(/neither model.safetensors nor model.safetensors.index.json/);
    await expect(all(folder({ "model.safetensors.index.json": "{}" }))).rejects.toThrow(/no "weight_map"/);
    await expect(all(folder({ "model.safetensors.index.json": JSON.stringify({ weight_map: { x: "../evil.safetensors" } }) }))).rejects.toThrow(/bad shard name/);
    await expect(all(folder({ "model.safetensors.index.json": JSON.stringify({ weight_map: { x: "gone.safetensors" } }) }))).rejects.toThrow(/has no gone.safetensors/);
    await expect(all(folder({ "model.safetensors": a.subarray(0, a.length - 2) }))).rejects.toThrow(/model.safetensors: .*truncated/);
  });
});
