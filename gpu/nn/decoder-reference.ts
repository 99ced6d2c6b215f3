// The decoder's forward in float64 on the CPU, from gpu/reference (slow, obviously correct): what
// the GPU decoder is tested against without Python, and the loss finite differences differentiate.
// Weights in Hugging Face naming and layout (Linear [out, in]); LoRA adapters in peft's.

import { crossEntropyRef } from "../reference/cross-entropy";
import { gqaRef } from "../reference/gqa";
import { matmulRef } from "../reference/matmul";
import { rmsNormRef } from "../reference/rmsnorm";
import { ropeRef } from "../reference/rope";
import { swigluRef } from "../reference/swiglu";
import { ropeAngles, ropeInvFreq } from "../ops/rope";
import type { DecoderConfig } from "./hf-config";
import { dropoutKeeps } from "../ops/elementwise";

type Weights = Map<string, ArrayLike<number>>;

/** peft LoRA in the reference: scale alpha / r, and optionally each module's dropout mask (seeded as the GPU's). */
export interface LoraRef {
  scale: number;
  dropout?: (module: string) => { p: number; seed: number } | null;
}

/** Logits [B, T, V] for tokens [B, T]; `lora` adds scale (x A^T) B^T on the modules whose A and B are in w. */
export function decoderForwardRef(c: DecoderConfig, w: Weights, tokens: ArrayLike<number>, B: number, T: number, lora?: LoraRef): Float64Array {
  const N = B * T;
  const H = c.hiddenSize;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`decoderForwardRef: missing ${n}`);
    return t;
  };
  const { cos, sin } = ropeAngles(ropeInvFreq(c.headDim, c.rope), T);
  const linear = (name: string, x: ArrayLike<number>, K: number, O: number): Float64Array => {
    const y = matmulRef(x, get(`${name}.weight`), { batchA: 1, batchB: 1, M: N, N: O, K, transB: true });
    const b = w.get(`${name}.bias`);
    if (b) for (let i = 0; i < N; i++) for (let j = 0; j < O; j++) y[i * O + j] += b[j];
    const A = w.get(`${name}.lora_A`);
    if (A && lora) {
      const r = A.length / K;
      const drop = lora.dropout?.(name);
      const xd = drop ? Float64Array.from(x, (v, i) => (dropoutKeeps(drop.seed, i, drop.p) ? v / (1 - drop.p) : 0)) : x;
      const xa = matmulRef(xd, A, { batchA: 1, batchB: 1, M: N, N: r, K, transB: true });
      const yl = matmulRef(xa, get(`${name}.lora_B`), { batchA: 1, batchB: 1, M: N, N: O, K: r, transB: true });
      for (let i = 0; i < y.length; i++) y[i] += lora.scale * yl[i];
    }
    return y;
  };
  const E = get("model.embed_tokens.weight");
  let x = new Float64Array(N * H);
  for (let i = 0; i < N; i++) for (let j = 0; j < H; j++) x[i * H + j] = E[tokens[i] * H + j];
  const qd = c.nHead * c.headDim;
  const kvd = c.nKvHead * c.headDim;
  for (let l = 0; l < c.nLayer; l++) {
    const p = `model.layers.${l}.`;
    const n1 = rmsNormRef(x, get(p + "input_layernorm.weight"), c.rmsNormEps).y;
    const q = ropeRef(linear(p + "self_attn.q_proj", n1, H, qd), cos, sin, { B, T, nHead: c.nHead, headDim: c.headDim });
    const k = ropeRef(linear(p + "self_attn.k_proj", n1, H, kvd), cos, sin, { B, T, nHead: c.nKvHead, headDim: c.headDim });
    const v = linear(p + "self_attn.v_proj", n1, H, kvd);
    const att = gqaRef(q, k, v, { B, Tq: T, Tk: T, nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, window: c.layerWindows[l] ?? undefined });
    const o = linear(p + "self_attn.o_proj", att, qd, H);
    const x1 = Float64Array.from(x, (v0, i) => v0 + o[i]);
    const n2 = rmsNormRef(x1, get(p + "post_attention_layernorm.weight"), c.rmsNormEps).y;
    const act = swigluRef(linear(p + "mlp.gate_proj", n2, H, c.intermediateSize), linear(p + "mlp.up_proj", n2, H, c.intermediateSize));
    const d = linear(p + "mlp.down_proj", act, c.intermediateSize, H);
    x = Float64Array.from(x1, (v0, i) => v0 + d[i]);
  }
  const nf = rmsNormRef(x, get("model.norm.weight"), c.rmsNormEps).y;
  return linear(c.tieWordEmbeddings ? "model.embed_tokens" : "lm_head", nf, H, c.vocabSize);
}

/** Mean cross-entropy of targets [B*T] under the reference forward. */
export function decoderLossRef(c: DecoderConfig, w: Weights, tokens: ArrayLike<number>, targets: ArrayLike<number>, B: number, T: number, lora?: LoraRef): number {
  const losses = crossEntropyRef(decoderForwardRef(c, w, tokens, B, T, lora), targets, c.vocabSize);
  let s = 0;
  for (const v of losses) s += v;
  return s / losses.length;
}
