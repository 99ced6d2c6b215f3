// safetensors round trips, clear errors for malformed files, Hearth checkpoints and the import of
// GPT-2 checkpoints in Hugging Face naming.

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors, importHFGPT2, loadGPT, saveGPT, SafetensorsError, sha256Hex, toFloat32 } from "../../gpu/io";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { trainBpe } from "../../gpu/tokenizer";
import { gpuContext } from "./helpers";

function header(json: string, data = new Uint8Array(0)): Uint8Array {
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setUint32(0, h.length, true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe("safetensors", () => {
  it("round-trips tensors and metadata in the documented layout", async () => {
    const bytes = encodeSafetensors({ a: { shape: [2, 3], data: Float32Array.of(1, -2, 3.5, 4, 5, 6) }, b: { shape: [2], data: Int32Array.of(7, -8) } }, { note: "hi" });
    const len = new DataView(bytes.buffer).getUint32(0, true);
    expect((8 + len) % 8).toBe(0);
    const head = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
    expect(head.a).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    expect(head.__metadata__).toEqual({ note: "hi" });
    const f = decodeSafetensors(bytes);
    expect(Array.from(toFloat32("a", f.tensors.get("a")!))).toEqual([1, -2, 3.5, 4, 5, 6]);
    expect(f.tensors.get("b")!.dtype).toBe("I32");
    expect(await sha256Hex(bytes)).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("converts F16 and BF16 to float32", () => {
    const data = new Uint8Array(8);
    const v = new DataView(data.buffer);
    v.setUint16(0, 0x3c00, true); // f16 1.0
    v.setUint16(2, 0xc000, true); // f16 -2.0
    v.setUint16(4, 0x3f80, true); // bf16 1.0
    v.setUint16(6, 0x4040, true); // bf16 3.0
    const f = decodeSafetensors(header(JSON.stringify({ h: { dtype: "F16", shape: [2], data_offsets: [0, 4] }, b: { dtype: "BF16", shape: [2], data_offsets: [4, 8] } }), data));
    expect(Array.from(toFloat32("h", f.tensors.get("h")!))).toEqual([1, -2]);
    expect(Array.from(toFloat32("b", f.tensors.get("b")!))).toEqual([1, 3]);
  });

  it("reports malformed and truncated files with clear errors", () => {
    const good = encodeSafetensors({ w: { shape: [4], data: Float32Array.of(1, 2, 3, 4) } });
    const cases: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(3), /too short/],
      [good.subarray(0, 20), /header length \d+ exceeds/],
      [good.subarray(0, good.length - 4), /truncated/],
      [header("{not json"), /not valid UTF-8 JSON/],
      [header("[1,2]"), /must be a JSON object/],
      [header('{"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)), /unsupported dtype/],
      [header('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', new Uint8Array(4)), /needs 8 bytes/],
      [header('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', new Uint8Array(4)), /shape must be/],
      [header('{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}', new Uint8Array(4)), /data_offsets must be/],
      [header('{"__metadata__":{"a":1}}'), /__metadata__ must be/],
    ];
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setUint32(4, 1, true);
    cases.push([huge, /exceeds/]);
    for (const [bytes, msg] of cases) {
      let err: unknown;
      try {
        decodeSafetensors(bytes);
      } catch (e) {
        err = e;
      }
      expect(err, String(msg)).toBeInstanceOf(SafetensorsError);
      expect((err as Error).message).toMatch(msg);
    }
  });
});

describe("GPT checkpoints", () => {
  const cfg = gptPreset("tiny", { vocabSize: 260, blockSize: 16 });
  const tokens = Int32Array.from({ length: 2 * 16 }, (_, i) => (i * 31 + 5) % 260);

  it("save -> load reproduces the logits exactly, with config and tokenizer", async () => {
    const ctx = await gpuContext();
    const tok = trainBpe("hello hello world world world", 260);
    const model = GPT.create(ctx, cfg, { seed: 9 });
    const bytes = await saveGPT(model, { tokenizer: tok, metadata: { run: "r1" } });
    const loaded = loadGPT(ctx, bytes);
    expect(loaded.config).toEqual(cfg);
    expect(loaded.metadata.run).toBe("r1");
    expect(loaded.tokenizer!.encode("hello world")).toEqual(tok.encode("hello world"));
    const x = ctx.tensor(tokens, [2, 16], "i32");
    const [a, b] = await ctx.readMany([model.logits(x), loaded.model.logits(x)]);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(() => loadGPT(ctx, encodeSafetensors({ w: { shape: [1], data: [1] } }))).toThrow(/not a Hearth GPT checkpoint/);
    model.release();
    loaded.model.release();
  });

  it("imports a GPT-2 checkpoint in Hugging Face naming with the same logits", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, cfg, { seed: 10 });
    const native = await model.readParameters();
    // Write the HF layout: "transformer." prefix, Conv1D [in, out] weights, mask buffers, tied lm_head.
    const hf = new Map<string, { shape: number[]; data: Float32Array }>();
    const T = cfg.blockSize;
    for (const [name, data] of native) hf.set(`transformer.${name}`, { shape: [...model.params.get(name)!.shape], data });
    for (let l = 0; l < cfg.nLayer; l++) {
      hf.set(`transformer.h.${l}.attn.bias`, { shape: [1, 1, T, T], data: Float32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 1 : 0)) });
    }
    hf.set("lm_head.weight", { shape: [cfg.vocabSize, cfg.nEmbd], data: native.get("wte.weight")! });
    const bytes = encodeSafetensors(hf, { format: "pt" });
    const imported = importHFGPT2(ctx, bytes, { n_head: cfg.nHead, n_layer: cfg.nLayer, n_embd: cfg.nEmbd, n_positions: T, vocab_size: cfg.vocabSize });
    expect(imported.config).toEqual(cfg);
    const x = ctx.tensor(tokens, [2, 16], "i32");
    const [a, b] = await ctx.readMany([model.logits(x), imported.model.logits(x)]);
    expect(Array.from(b)).toEqual(Array.from(a));
    expect(() => importHFGPT2(ctx, bytes, { n_head: cfg.nHead, n_layer: 5 })).toThrow(/n_layer = 5/);
    hf.delete(`transformer.h.1.mlp.c_fc.bias`);
    expect(() => importHFGPT2(ctx, encodeSafetensors(hf), { n_head: cfg.nHead })).toThrow(/missing tensor "transformer.h.1.mlp.c_fc.bias"/);
    model.release();
    imported.model.release();
  });
});
