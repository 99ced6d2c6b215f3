// Token + position embedding: out[b, t] = wte[tokens[b, t]] + wpe[t].

import type { GpuContext } from "../device";
import { formatShape, type Tensor } from "../tensor";
import { elementWG, expectDtype, expectShape, fail, grid1d } from "./util";

function dims(op: string, tokens: Tensor, wte: Tensor, wpe: Tensor) {
  expectDtype(op, "tokens", tokens, ["i32", "u32"]);
  if (tokens.rank !== 2) fail(op, `tokens must be [B, T], got ${formatShape(tokens.shape)}`);
  if (wte.rank !== 2 || wpe.rank !== 2 || wte.shape[1] !== wpe.shape[1]) {
    fail(op, `wte [V, C] and wpe [maxT, C] must share C, got wte ${formatShape(wte.shape)}, wpe ${formatShape(wpe.shape)}`);
  }
  const [B, T] = tokens.shape;
  const [V, C] = wte.shape;
  if (T > wpe.shape[0]) fail(op, `sequence length ${T} (tokens ${formatShape(tokens.shape)}) exceeds wpe's ${wpe.shape[0]} positions`);
  return { B, T, V, C };
}

export function embedding(ctx: GpuContext, tokens: Tensor, wte: Tensor, wpe: Tensor): Tensor {
  const { B, T, V, C } = dims("embedding", tokens, wte, wpe);
  const out = ctx.empty([B, T, C], "f32", "embedding");
  const WG = elementWG(ctx);
  ctx.dispatch({
    kernel: "embedding",
    entry: "forward",
    constants: { WG },
    params: { u: [B * T, T, C, V, 1] },
    bindings: [tokens, wte, wpe, out],
    groups: grid1d(ctx, B * T * C, WG),
  });
  return out;
}

/**
 * Adds the embedding gradients into dwte [V, C] and dwpe [maxT, C] (zero them first, or let them
 * hold the tied LM-head gradient). Rows shared by repeated tokens are summed without races.
 */
export function embeddingBackward(ctx: GpuContext, tokens: Tensor, dout: Tensor, grads: { dwte: Tensor; dwpe: Tensor }): void {
  const { B, T, V, C } = dims("embeddingBackward", tokens, grads.dwte, grads.dwpe);
  expectShape("embeddingBackward", "dout", dout, [B, T, C]);
  const WG = elementWG(ctx);
  // Each invocation owns (channel, vocabulary slice) and scans every token, so slices multiply the
  // scanning work: use just enough of them for a few hundred invocations.
  const vchunks = Math.max(1, Math.min(V, Math.ceil(256 / Math.max(1, C))));
  ctx.dispatch({
    kernel: "embedding",
    entry: "backward_wte",
    constants: { WG },
    params: { u: [B * T, T, C, V, vchunks] },
    bindings: [tokens, null, null, null, dout, grads.dwte],
    groups: grid1d(ctx, C * vchunks, WG),
  });
  ctx.dispatch({
    kernel: "embedding",
    entry: "backward_wpe",
    constants: { WG },
    params: { u: [B * T, T, C, V, 1] },
    bindings: [null, null, null, null, dout, null, grads.dwpe],
    groups: grid1d(ctx, T * C, WG),
  });
}
