// Bundled into the page by test/gpu/browser-decoder.test.ts: a Hugging Face folder served at /hf/
// loaded into the decoder in the page (fetch with range requests) and in a Web Worker (the page
// hands it the files as Blobs, as a <input type=file webkitdirectory> would), streaming tensor by
// tensor. Each returns the logits for the same tokens.

import { openBrowserGpu } from "../../../gpu/index";
import { Decoder } from "../../../gpu/nn/decoder";
import { fetchFolderReader } from "../../../gpu/io/hf-folder";

async function inPage(tokens: number[]): Promise<{ logits: number[]; ranges: number }> {
  const ctx = await openBrowserGpu({ autotune: false });
  const reader = fetchFolderReader("/hf/");
  let ranges = 0;
  const readRange = reader.readRange;
  reader.readRange = (name, start, end) => (ranges++, readRange(name, start, end));
  const m = await Decoder.fromHF(ctx, reader);
  const x = ctx.tensor(Int32Array.from(tokens), [1, tokens.length], "i32");
  const logits = m.logits(x);
  const out = Array.from((await ctx.read(logits)) as Float32Array);
  m.release();
  ctx.destroy();
  return { logits: out, ranges };
}

async function inWorker(tokens: number[], names: string[]): Promise<number[]> {
  const files = new Map<string, Blob>();
  for (const n of names) {
    const r = await fetch(`/hf/${n}`);
    if (r.ok) files.set(n, await r.blob());
  }
  return new Promise((resolve, reject) => {
    const w = new Worker("/decoder-worker.js", { type: "module" });
    w.onmessage = (e) => (e.data.error ? reject(new Error(e.data.error)) : resolve(e.data.logits));
    w.onerror = (e) => reject(new Error(e.message));
    w.postMessage({ tokens, files });
  });
}

Object.assign(globalThis, { __hearthDecoderPage: inPage, __hearthDecoderWorker: inWorker, __hearthReady: true });
