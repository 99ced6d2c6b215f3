// The whole GPT forward in float64 on the CPU, from gpu/reference (slow, obviously correct):
// what the GPU model is tested against, and the loss the finite-difference checks differentiate.

import { addRef, biasAddRef, geluRef } from "../reference/elementwise";
import { attentionRef } from "../reference/attention";
import { embeddingRef } from "../reference/embedding";
import { layerNormRef } from "../reference/layernorm";
import { matmulRef } from "../reference/matmul";
import { crossEntropyRef } from "../reference/cross-entropy";
import type { GPTConfig } from "./config";

type Weights = Map<string, ArrayLike<number>>;

function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, K: number, N: number): Float64Array {
  return biasAddRef(matmulRef(x, w, { batchA: 1, batchB: 1, M: rows, N, K }), b);
}

/** Logits [B, T, V] for tokens [B, T] (row-major). */
export function gptForwardRef(c: GPTConfig, w: Weights, tokens: ArrayLike<number>, B: number, T: number): Float64Array {
  const C = c.nEmbd;
  const N = B * T;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`gptForwardRef: missing ${n}`);
    return t;
  };
  let x: Float64Array = embeddingRef(tokens, get("wte.weight"), get("wpe.weight"), T, C);
  for (let l = 0; l < c.nLayer; l++) {
    const p = (n: string) => get(`h.${l}.${n}`);
    const ln1 = layerNormRef(x, p("ln_1.weight"), p("ln_1.bias")).y;
    const qkv = linearRef(ln1, p("attn.c_attn.weight"), p("attn.c_attn.bias"), N, C, 3 * C);
    const att = attentionRef(qkv, B, T, C, c.nHead);
    const x1 = addRef(x, linearRef(att, p("attn.c_proj.weight"), p("attn.c_proj.bias"), N, C, C));
    const ln2 = layerNormRef(x1, p("ln_2.weight"), p("ln_2.bias")).y;
    const h = geluRef(linearRef(ln2, p("mlp.c_fc.weight"), p("mlp.c_fc.bias"), N, C, 4 * C));
    x = addRef(x1, linearRef(h, p("mlp.c_proj.weight"), p("mlp.c_proj.bias"), N, 4 * C, C));
  }
  const lnf = layerNormRef(x, get("ln_f.weight"), get("ln_f.bias")).y;
  return matmulRef(lnf, get("wte.weight"), { batchA: 1, batchB: 1, M: N, N: c.vocabSize, K: C, transB: true });
}

/** Mean cross-entropy of targets [B*T] under the reference forward. */
export function gptLossRef(c: GPTConfig, w: Weights, tokens: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number): number {
  const losses = crossEntropyRef(gptForwardRef(c, w, tokens, B, T), targets, c.vocabSize);
  let s = 0;
  for (const v of losses) s += v;
  return s / losses.length;
}
