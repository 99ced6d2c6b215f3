// A module Web Worker: receives an HF folder as Blobs and returns the decoder's logits.
import { openBrowserGpu } from "../../../gpu/index";
import { Decoder } from "../../../gpu/nn/decoder";
import { blobFolderReader } from "../../../gpu/io/hf-folder";

onmessage = async (e: MessageEvent<{ tokens: number[]; files: Map<string, Blob> }>) => {
  try {
    const ctx = await openBrowserGpu({ autotune: false });
    const m = await Decoder.fromHF(ctx, blobFolderReader(e.data.files));
    const x = ctx.tensor(Int32Array.from(e.data.tokens), [1, e.data.tokens.length], "i32");
    const logits = m.logits(x);
    const out = Array.from((await ctx.read(logits)) as Float32Array);
    m.release();
    ctx.destroy();
    postMessage({ logits: out });
  } catch (err) {
    postMessage({ error: String((err as Error).stack ?? err) });
  }
};
