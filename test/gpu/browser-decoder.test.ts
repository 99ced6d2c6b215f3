// A Hugging Face folder (bf16, sharded) loaded into the decoder in Node (fs), in a page (fetch) and
// in a Web Worker (Blobs), streaming tensor by tensor: the same logits everywhere.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decoder } from "../../gpu/nn/decoder";
import { decoderTensorShapes, type DecoderConfig } from "../../gpu/nn/hf-config";
import { nodeFolderReader } from "../../gpu/io/folder-node";
import { writeTinyLlamaFolder } from "../support/tiny-hf-folder";
import { openBundleInChromium, type BrowserRun } from "./browser/harness";
import { expectClose, gpuContext } from "./helpers";

const TOKENS = [5, 17, 3, 60, 22, 9, 41];

describe("loading an HF folder in Node, a page and a worker", () => {
  let dir = "";
  let run: BrowserRun;
  let nodeLogits: Float32Array;
  let config: DecoderConfig;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "hearth-hf-folder-"));
    config = writeTinyLlamaFolder(dir, { shards: 3 });
    const ctx = await gpuContext();
    const m = await Decoder.fromHF(ctx, nodeFolderReader(dir));
    expect([...m.params.values()].filter((p) => "half" in p).length).toBeGreaterThan(0);
    const x = ctx.tensor(Int32Array.from(TOKENS), [1, TOKENS.length], "i32");
    const logits = m.logits(x);
    nodeLogits = (await ctx.read(logits)) as Float32Array;
    logits.release();
    x.release();
    m.release();
    run = await openBundleInChromium({
      entry: path.join(import.meta.dirname, "browser/decoder.entry.ts"),
      extraEntries: { "decoder-worker": path.join(import.meta.dirname, "browser/decoder-worker.entry.ts") },
      statics: { "/hf/": dir },
    });
  });
  afterAll(async () => {
    await run?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("in a page, over fetch with range requests (a header, then one request per tensor)", async () => {
    const got = await run.page.evaluate((t) => (globalThis as unknown as { __hearthDecoderPage: (t: number[]) => Promise<{ logits: number[]; ranges: number }> }).__hearthDecoderPage(t), TOKENS);
    expectClose(got.logits, nodeLogits, "page logits", 1e-5, 1e-5);
    // 3 shards x (length + header) + one range per tensor
    expect(got.ranges).toBe(3 * 2 + decoderTensorShapes(config).length);
  });

  it("in a Web Worker, from Blobs", async () => {
    const names = readdirSync(dir);
    const got = await run.page.evaluate(
      ([t, n]) => (globalThis as unknown as { __hearthDecoderWorker: (t: number[], n: string[]) => Promise<number[]> }).__hearthDecoderWorker(t, n),
      [TOKENS, names] as [number[], string[]],
    );
    expectClose(got, nodeLogits, "worker logits", 1e-5, 1e-5);
  });
});
