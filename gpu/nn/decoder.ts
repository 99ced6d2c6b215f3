// One decoder for llama, mistral and qwen2 (Hugging Face's LlamaForCausalLM and its relatives):
// token embedding, pre-RMSNorm blocks (grouped-query attention with rotary embeddings in the
// rotate-half layout, optional q/k/v biases and sliding window; SwiGLU MLP), final RMSNorm, and a
// head tied to the embedding or its own. Parameters keep Hugging Face's names and layouts
// (Linear weights [out, in]), so a checkpoint loads and exports by name.
//
// Weights: 2-D tensors of a 16-bit checkpoint stay 16-bit on the GPU (gpu/ops/weight16.ts), frozen;
// norms and biases are f32. Full fine-tuning keeps f32 master weights (`precision: "f32"`).
// LoRA adapters (peft's layout: A [r, in], B [out, r], scale alpha / r) are f32, as are all
// gradients. Blocks read top to bottom, forward and backward side by side.

import type { GpuContext } from "../device";
import { Tensor } from "../tensor";
import { accumulate, biasAddBackward, dropout } from "../ops/elementwise";
import { adamw, type AdamWConfig } from "../ops/adamw";
import { crossEntropy, crossEntropyWithGrad } from "../ops/cross-entropy";
import { gqaMatmulShapes, groupedQueryAttention, groupedQueryAttentionBackward, releaseGqaSaved, type GqaSaved } from "../ops/gqa";
import { matmul, matmulBackward, selectMatmulVariantsFor, type MatmulShapeSpec } from "../ops/matmul";
import { sumAll } from "../ops/reduce";
import { rmsNorm, rmsNormBackward, type RmsNormResult } from "../ops/rmsnorm";
import { rope, ropeBackward, ropeInvFreq, ropeTable, type RopeTable } from "../ops/rope";
import { swiglu, swigluBackward } from "../ops/swiglu";
import { isWeight16, linear16, selectLinear16VariantsFor, linear16BackwardInput, readWeight16Bytes, tokenEmbedding, tokenEmbeddingBackward, uploadWeight16, type AnyWeight } from "../ops/weight16";
import { bf16ToF32, encodeSafetensors, f16ToF32, f32ToF16, type SafetensorsDType } from "../io/safetensors";
import { streamHFFolder, type FolderReader, type StreamedTensor } from "../io/hf-folder";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "./hf-config";
import { mulberry32 } from "./config";
import { sampleToken } from "./generate";

type P = Map<string, AnyWeight>;

export type LoraModule = "q_proj" | "k_proj" | "v_proj" | "o_proj" | "gate_proj" | "up_proj" | "down_proj";

const MLP_MODULES: LoraModule[] = ["gate_proj", "up_proj", "down_proj"];

export interface DecoderLoraConfig {
  /** peft's r and lora_alpha: scale = alpha / r. */
  r: number;
  alpha: number;
  targets: LoraModule[];
  /** peft's lora_dropout: dropout on the adapter's input while training (0 = none). */
  dropout?: number;
}

export interface DecoderLoadOptions {
  /**
   * "16bit" (default): 2-D weights of a 16-bit checkpoint stay in its format, frozen (inference and
   * LoRA); "f32": every weight is f32 (full fine-tuning's master weights).
   */
  precision?: "16bit" | "f32";
  /** What to do with an f32 checkpoint's 2-D weights: keep them f32 (default) or round them to f16. */
  f32Weights?: "keep" | "f16";
}

interface BlockActs {
  x: Tensor;
  n1: RmsNormResult;
  q: Tensor;
  k: Tensor;
  v: Tensor;
  att: { out: Tensor; saved: GqaSaved };
  x1: Tensor;
  n2: RmsNormResult;
  gate: Tensor;
  up: Tensor;
  act: Tensor;
  out: Tensor;
  /** x A^T per adapted projection (the adapter's backward needs it). */
  lora: Map<string, Tensor>;
}

export interface DecoderCache {
  tokens: Tensor;
  x0: Tensor;
  /** Each block's saved activations; null where they were dropped (recomputed in backward, or not kept). */
  blocks: Array<BlockActs | null>;
  /** With activation recomputation: each block's input (x0, then every block's output but the last). */
  inputs: Tensor[];
  xf: Tensor;
  nf: RmsNormResult;
  logits: Tensor;
}

function releaseNorm(n: RmsNormResult): void {
  n.y.release();
  n.rstd.release();
}

/** Releases what a block saved for backward, except its input and output. */
function releaseBlockSaved(b: BlockActs): void {
  releaseNorm(b.n1);
  releaseNorm(b.n2);
  for (const t of [b.q, b.k, b.v, b.att.out, b.x1, b.gate, b.up, b.act, ...b.lora.values()]) t.release();
  releaseGqaSaved(b.att.saved);
}

export function releaseDecoderCache(c: DecoderCache, o: { keepLogits?: boolean } = {}): void {
  // the residual stream: x0 and every block's output, as far as the forward pass kept them
  // (a released buffer may already belong to another tensor: never test .released here)
  if (c.blocks.every((b) => b)) {
    c.x0.release();
    for (const b of c.blocks) {
      releaseBlockSaved(b!);
      b!.out.release();
    }
  } else {
    for (const t of c.inputs) t.release();
    c.xf.release();
  }
  releaseNorm(c.nf);
  if (!o.keepLogits) c.logits.release();
}

/** The source dtype of each loaded tensor, so an export writes it back bit for bit. */
type SourceDType = Extract<SafetensorsDType, "F32" | "F16" | "BF16">;

export class Decoder {
  readonly params: P = new Map();
  /** Gradients (f32) of the trainable parameters, by the same names; see enableTraining. */
  readonly grads = new Map<string, Tensor>();
  /** AdamW moments (f32), allocated with the gradients. */
  readonly m = new Map<string, Tensor>();
  readonly v = new Map<string, Tensor>();
  /** Adapters by module name (e.g. "model.layers.0.self_attn.q_proj"): scale alpha / r, index for dropout seeds. */
  readonly lora = new Map<string, { scale: number; index: number }>();
  /** Set by beginStep while a training batch runs: LoRA dropout is on and seeded from it; null otherwise. */
  private dropoutSeed: number | null = null;
  loraConfig?: DecoderLoraConfig;
  /** True once LoRA is attached: only the adapters train. */
  frozenBase = false;
  /** cos/sin for positions 0 .. rope.maxPositions - 1; grown (doubling) when a longer sequence comes. */
  rope: RopeTable;
  private readonly invFreq: Float32Array;
  /** The checkpoint dtype of every base tensor. */
  readonly sourceDtypes = new Map<string, SourceDType>();

  private constructor(
    readonly ctx: GpuContext,
    readonly config: DecoderConfig,
  ) {
    this.invFreq = ropeInvFreq(config.headDim, config.rope);
    // a table for every position of a 128k-context model would be large: start small, grow on demand
    this.rope = ropeTable(ctx, this.invFreq, Math.min(config.maxPositions, 256));
  }

  /**
   * Loads a Hugging Face folder (config.json and model.safetensors or shards) streaming tensor by
   * tensor: in Node with nodeFolderReader, in a page or worker with blobFolderReader/fetchFolderReader.
   */
  static async fromHF(ctx: GpuContext, reader: FolderReader, o: DecoderLoadOptions = {}): Promise<Decoder> {
    const cfg = parseHFConfig((await reader.readJson("config.json")) as Record<string, unknown>);
    if (cfg.modelType === "gpt2") throw new Error("Decoder.fromHF: a gpt2 checkpoint loads with importHFGPT2 (gpu/io/checkpoint.ts)");
    return Decoder.fromTensors(ctx, cfg, streamHFFolder(reader), o);
  }

  /** A decoder from a config and a stream (or list) of checkpoint tensors in HF naming. */
  static async fromTensors(ctx: GpuContext, config: DecoderConfig, tensors: AsyncIterable<StreamedTensor> | Iterable<StreamedTensor>, o: DecoderLoadOptions = {}): Promise<Decoder> {
    const m = new Decoder(ctx, config);
    const want = new Map(decoderTensorShapes(config));
    try {
      for await (const t of tensors) {
        const name = t.name;
        if (!want.has(name)) {
          // tied checkpoints may still carry lm_head.weight (a copy of the embedding); rotary buffers are derived
          if (name === "lm_head.weight" && config.tieWordEmbeddings) continue;
          if (/rotary_emb\.inv_freq$/.test(name)) continue;
          throw new Error(`Decoder: unexpected tensor "${name}" [${t.shape.join(", ")}] for a ${config.modelType} config`);
        }
        const shape = want.get(name)!;
        if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
          throw new Error(`Decoder: tensor "${name}" is [${t.shape.join(", ")}], the config needs [${shape.join(", ")}]`);
        }
        if (t.dtype !== "F32" && t.dtype !== "F16" && t.dtype !== "BF16") throw new Error(`Decoder: tensor "${name}" is ${t.dtype}; F32, F16 or BF16 expected`);
        m.sourceDtypes.set(name, t.dtype);
        m.params.set(name, upload(ctx, t, shape.length === 2 ? o : { precision: "f32" }));
      }
      const missing = [...want.keys()].filter((n) => !m.params.has(n));
      if (missing.length) throw new Error(`Decoder: the checkpoint lacks ${missing.slice(0, 5).map((n) => `"${n}"`).join(", ")}${missing.length > 5 ? ` and ${missing.length - 5} more` : ""}`);
    } catch (e) {
      m.release();
      throw e;
    }
    return m;
  }

  get parameterCount(): number {
    let n = 0;
    for (const [k, t] of this.params) if (!/\.lora_[AB]$/.test(k)) n += t.size;
    return n;
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get contextLength(): number {
    return this.config.maxPositions;
  }

  /**
   * The optimizer step (and micro-batch) whose training batch runs next: LoRA dropout masks are
   * seeded from it, so a resumed run draws the same masks. Dropout stays off outside trainBatch.
   */
  beginStep(step: number, micro: number): void {
    this.stepSeed = (Math.imul(step + 1, 0x9e3779b1) ^ Math.imul(micro + 1, 0x85ebca6b)) >>> 0;
  }

  private stepSeed = 0;

  /** The dropout a module's adapter applies in the current step's training batch (null: none). */
  dropoutFor(module: string): { p: number; seed: number } | null {
    const ad = this.lora.get(module);
    const p = this.loraConfig?.dropout ?? 0;
    if (!ad || p <= 0) return null;
    return { p, seed: (this.stepSeed ^ Math.imul(ad.index + 1, 0xc2b2ae35)) >>> 0 };
  }

  /** Matrices and LoRA adapters decay; norms and biases never (as adamwStep). */
  weightDecays(name: string): boolean {
    return this.params.get(name)?.rank === 2;
  }

  /** The head's module: the embedding when tied (logits = x E^T), else lm_head. */
  private head(): string {
    return this.config.tieWordEmbeddings ? "model.embed_tokens" : "lm_head";
  }

  /**
   * Measures kernel variants on every product of a training step (batch B, length T): f32 matmuls
   * (forward, dx, dW, attention) and, for 16-bit weights, fused vs unpacked products. Cached per
   * adapter; call once before training or generating.
   */
  async tune(B: number, T: number): Promise<void> {
    const N = B * T;
    const f32: MatmulShapeSpec[] = [];
    const w16: Array<{ M: number; N: number; K: number; input?: boolean }> = [];
    for (const [name, p] of this.params) {
      if (p.rank !== 2 || (name === "model.embed_tokens.weight" && !this.config.tieWordEmbeddings)) continue;
      const [out, inp] = p.shape;
      if (isWeight16(p)) w16.push({ M: N, N: out, K: inp }, { M: N, N: out, K: inp, input: true });
      else f32.push({ M: N, N: out, K: inp, transB: true }, { M: N, N: inp, K: out }, { M: out, N: inp, K: N, transA: true });
    }
    const c = this.config;
    f32.push(...gqaMatmulShapes(B, T, T, { nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim }));
    await selectMatmulVariantsFor(this.ctx, f32);
    if (w16.length) await selectLinear16VariantsFor(this.ctx, w16);
  }

  // ---------- LoRA ----------

  /**
   * Adds peft-style adapters (A [r, in], B [out, r], f32) on the named projections of every layer
   * and freezes the base. `weights` (names "<module>.lora_A" / ".lora_B", peft's without
   * "base_model.model." and ".default.weight") restores saved ones; otherwise A is uniform in
   * +-1/sqrt(in) and B zero, as peft's default init.
   */
  attachLora(cfg: DecoderLoraConfig, o: { weights?: Map<string, Float32Array>; seed?: number } = {}): void {
    if (!Number.isInteger(cfg.r) || cfg.r < 1) throw new Error(`LoRA: r must be a positive integer, got ${cfg.r}`);
    if (cfg.dropout !== undefined && !(cfg.dropout >= 0 && cfg.dropout < 1)) throw new Error(`LoRA: dropout must be in [0, 1), got ${cfg.dropout}`);
    if (this.lora.size) throw new Error("LoRA: this model already has adapters");
    let s = (o.seed ?? 7) >>> 0;
    const rand = () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = s;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    for (let l = 0; l < this.config.nLayer; l++) {
      for (const t of cfg.targets) {
        const mod = `model.layers.${l}.${MLP_MODULES.includes(t) ? "mlp" : "self_attn"}.${t}`;
        const w = this.params.get(`${mod}.weight`);
        if (!w) throw new Error(`LoRA: no module "${mod}"`);
        const [out, inp] = w.shape;
        for (const [suffix, shape] of [["lora_A", [cfg.r, inp]], ["lora_B", [out, cfg.r]]] as const) {
          const n = shape[0] * shape[1];
          let data = o.weights?.get(`${mod}.${suffix}`);
          if (o.weights && !data) throw new Error(`LoRA: saved adapters lack "${mod}.${suffix}"`);
          if (data && data.length !== n) throw new Error(`LoRA: "${mod}.${suffix}" has ${data.length} values, expected [${shape.join(", ")}]`);
          if (!data) {
            const bound = 1 / Math.sqrt(inp);
            data = suffix === "lora_A" ? Float32Array.from({ length: n }, () => (rand() * 2 - 1) * bound) : new Float32Array(n);
          }
          this.params.set(`${mod}.${suffix}`, this.ctx.tensor(data, shape));
        }
        this.lora.set(mod, { scale: cfg.alpha / cfg.r, index: this.lora.size });
      }
    }
    this.loraConfig = { ...cfg, targets: [...cfg.targets] };
    this.frozenBase = true;
    if (this.grads.size) this.enableTraining();
  }

  // ---------- training state ----------

  trainableNames(): string[] {
    const names = [...this.params.keys()];
    return this.frozenBase ? names.filter((n) => /\.lora_[AB]$/.test(n)) : names;
  }

  /** Allocates zeroed f32 gradients for the trainable parameters (16-bit ones cannot train: load with precision "f32"). */
  enableTraining(): void {
    const want = new Set(this.trainableNames());
    for (const name of [...this.grads.keys()]) {
      if (want.has(name)) continue;
      for (const map of [this.grads, this.m, this.v]) {
        map.get(name)!.release();
        map.delete(name);
      }
    }
    for (const name of want) {
      if (this.grads.has(name)) continue;
      const p = this.params.get(name)!;
      if (isWeight16(p)) throw new Error(`Decoder: "${name}" is ${p.half}, frozen; full fine-tuning needs f32 master weights (load with precision: "f32") or LoRA`);
      this.grads.set(name, this.ctx.zeros(p.shape));
      this.m.set(name, this.ctx.zeros(p.shape));
      this.v.set(name, this.ctx.zeros(p.shape));
    }
  }

  /**
   * One AdamW update (step counts from 1) of every trainable parameter from this.grads; weight
   * decay applies to matrices and LoRA adapters, never to norms and biases.
   */
  adamwStep(step: number, cfg: AdamWConfig, gradScale?: Tensor): void {
    for (const [name, grad] of this.grads) {
      const param = this.params.get(name) as Tensor;
      const decay = param.rank === 2 ? cfg.weightDecay : 0;
      adamw(this.ctx, { param, grad, m: this.m.get(name)!, v: this.v.get(name)! }, step, { ...cfg, weightDecay: decay }, gradScale);
    }
  }

  zeroGrads(): void {
    for (const g of this.grads.values()) this.ctx.clear(g);
  }

  // ---------- a projection (Linear in HF layout + optional adapter), forward and backward ----------

  /** y = x W^T (+ b) (+ residual) (+ scale (x A^T) B^T). */
  private proj(name: string, x: Tensor, saved: Map<string, Tensor>, residual?: Tensor): Tensor {
    const { ctx, params: p } = this;
    const w = p.get(`${name}.weight`)!;
    const bias = p.get(`${name}.bias`) as Tensor | undefined;
    const y = isWeight16(w) ? linear16(ctx, x, w, { bias, residual }) : matmul(ctx, x, w, { transB: true, bias, residual });
    const ad = this.lora.get(name);
    if (ad) {
      const drop = this.dropoutSeed === null ? null : this.dropoutFor(name);
      const xd = drop ? dropout(ctx, x, drop) : x;
      const xa = matmul(ctx, xd, p.get(`${name}.lora_A`) as Tensor, { transB: true });
      matmul(ctx, xa, p.get(`${name}.lora_B`) as Tensor, { transB: true, alpha: ad.scale, out: y, accumulate: true });
      saved.set(name, xa);
      if (drop) saved.set(`${name}#dropped`, xd);
    }
    return y;
  }

  /** Adds the projection's trainable gradients; returns dx (into `dxInto` when given). */
  private projBackward(name: string, x: Tensor, dy: Tensor, saved: Map<string, Tensor>, dxInto?: Tensor): Tensor {
    const { ctx, params: p, grads: g } = this;
    const w = p.get(`${name}.weight`)!;
    const acc = { out: dxInto, accumulate: !!dxInto };
    const dx = isWeight16(w) ? linear16BackwardInput(ctx, dy, w, acc) : matmul(ctx, dy, w, acc).reshape(x.shape);
    const dw = g.get(`${name}.weight`);
    if (dw) matmulBackward(ctx, x, w as Tensor, dy, { transB: true, into: { db: dw }, needA: false });
    const db = g.get(`${name}.bias`);
    if (db) biasAddBackward(ctx, dy, { into: db });
    const ad = this.lora.get(name);
    if (ad) {
      const A = p.get(`${name}.lora_A`) as Tensor;
      const B = p.get(`${name}.lora_B`) as Tensor;
      const dB = g.get(`${name}.lora_B`);
      const dA = g.get(`${name}.lora_A`);
      const { da: dxa } = matmulBackward(ctx, saved.get(name)!, B, dy, { transB: true, alpha: ad.scale, into: dB ? { db: dB } : undefined, needB: !!dB });
      const xd = saved.get(`${name}#dropped`);
      if (dA) matmulBackward(ctx, xd ?? x, A, dxa!, { transB: true, into: { db: dA }, needA: false });
      if (xd) {
        // the adapter saw dropout(x): its gradient to x goes through the same mask
        const dxd = matmul(ctx, dxa!, A);
        const dxm = dropout(ctx, dxd, this.dropoutFor(name)!);
        accumulate(ctx, dx, dxm.reshape(dx.shape));
        dxd.release();
        dxm.release();
      } else matmul(ctx, dxa!, A, { out: dx, accumulate: true });
      dxa!.release();
    }
    return dx;
  }

  /** RMSNorm backward, the skip path's gradient summed into dx in the same pass. */
  private normBackward(name: string, x: Tensor, saved: RmsNormResult, dy: Tensor, residual?: Tensor): Tensor {
    const dweight = this.grads.get(name);
    const r = rmsNormBackward(this.ctx, x, this.params.get(name) as Tensor, saved, dy, { into: dweight ? { dweight } : undefined, residual, needWeightGrad: !!dweight });
    return r.dx;
  }

  private attnOptions(l: number) {
    const c = this.config;
    return { nHead: c.nHead, nKvHead: c.nKvHead, headDim: c.headDim, window: c.layerWindows[l] ?? undefined, scale: 1 / Math.sqrt(c.headDim) };
  }

  // ---------- one block, forward and backward side by side ----------

  private blockForward(l: number, x: Tensor): BlockActs {
    const { ctx, config: c } = this;
    const pre = `model.layers.${l}.`;
    const w = (n: string) => this.params.get(pre + n) as Tensor;
    const saved = new Map<string, Tensor>();
    const n1 = rmsNorm(ctx, x, w("input_layernorm.weight"), c.rmsNormEps);
    const q0 = this.proj(pre + "self_attn.q_proj", n1.y, saved);
    const k0 = this.proj(pre + "self_attn.k_proj", n1.y, saved);
    const v = this.proj(pre + "self_attn.v_proj", n1.y, saved);
    const q = rope(ctx, q0, this.rope, { nHead: c.nHead, headDim: c.headDim });
    const k = rope(ctx, k0, this.rope, { nHead: c.nKvHead, headDim: c.headDim });
    q0.release();
    k0.release();
    const att = groupedQueryAttention(ctx, q, k, v, this.attnOptions(l));
    const x1 = this.proj(pre + "self_attn.o_proj", att.out, saved, x);
    const n2 = rmsNorm(ctx, x1, w("post_attention_layernorm.weight"), c.rmsNormEps);
    const gate = this.proj(pre + "mlp.gate_proj", n2.y, saved);
    const up = this.proj(pre + "mlp.up_proj", n2.y, saved);
    const act = swiglu(ctx, gate, up);
    const out = this.proj(pre + "mlp.down_proj", act, saved, x1);
    return { x, n1, q, k, v, att, x1, n2, gate, up, act, out, lora: saved };
  }

  /** Adds the block's trainable gradients; returns dx (dout is consumed). */
  private blockBackward(l: number, a: BlockActs, dout: Tensor): Tensor {
    const { ctx, config: c } = this;
    const pre = `model.layers.${l}.`;
    const dact = this.projBackward(pre + "mlp.down_proj", a.act, dout, a.lora);
    const { dgate, dup } = swigluBackward(ctx, a.gate, a.up, dact);
    dact.release();
    const dn2 = this.projBackward(pre + "mlp.gate_proj", a.n2.y, dgate, a.lora);
    this.projBackward(pre + "mlp.up_proj", a.n2.y, dup, a.lora, dn2);
    dgate.release();
    dup.release();
    const dx1 = this.normBackward(pre + "post_attention_layernorm.weight", a.x1, a.n2, dn2, dout);
    dn2.release();
    dout.release();
    const datt = this.projBackward(pre + "self_attn.o_proj", a.att.out, dx1, a.lora);
    const { dq, dk, dv } = groupedQueryAttentionBackward(ctx, a.att.saved, datt, this.attnOptions(l));
    datt.release();
    const dq0 = ropeBackward(ctx, dq, this.rope, { nHead: c.nHead, headDim: c.headDim });
    const dk0 = ropeBackward(ctx, dk, this.rope, { nHead: c.nKvHead, headDim: c.headDim });
    dq.release();
    dk.release();
    const dn1 = this.projBackward(pre + "self_attn.q_proj", a.n1.y, dq0, a.lora);
    this.projBackward(pre + "self_attn.k_proj", a.n1.y, dk0, a.lora, dn1);
    this.projBackward(pre + "self_attn.v_proj", a.n1.y, dv, a.lora, dn1);
    for (const t of [dq0, dk0, dv]) t.release();
    const dx = this.normBackward(pre + "input_layernorm.weight", a.x, a.n1, dn1, dx1);
    dn1.release();
    dx1.release();
    return dx;
  }

  // ---------- the model ----------

  /** Makes the rotary table cover positions < n (at most max_position_embeddings). */
  private ensureRope(n: number): void {
    if (n <= this.rope.maxPositions) return;
    const size = Math.min(this.config.maxPositions, Math.max(n, 2 * this.rope.maxPositions));
    // released tensors may still be read by recorded work: the pool hands them out only later
    this.rope.cos.release();
    this.rope.sin.release();
    this.rope = ropeTable(this.ctx, this.invFreq, size);
  }

  /**
   * Activation recomputation: training keeps only each block's input and runs the block's forward
   * again during backward (about a third more compute, a block's activations instead of all of them).
   */
  recompute = false;

  /**
   * tokens [B, T] (i32) -> logits [B, T, V] plus what backward needs: every block's activations
   * ("all"), only block inputs to recompute them from ("inputs"), or nothing (inference, "none").
   */
  forward(tokens: Tensor, keep: "all" | "inputs" | "none" = "all"): DecoderCache {
    const { ctx, config: c } = this;
    if (tokens.rank !== 2 || tokens.shape[1] > c.maxPositions) {
      throw new Error(`Decoder.forward: tokens must be [B, T] with T <= ${c.maxPositions}, got [${tokens.shape.join(",")}]`);
    }
    this.ensureRope(tokens.shape[1]);
    const x0 = tokenEmbedding(ctx, tokens, this.params.get("model.embed_tokens.weight")!);
    const blocks: Array<BlockActs | null> = [];
    const inputs: Tensor[] = [];
    let x = x0;
    for (let l = 0; l < c.nLayer; l++) {
      const b = this.blockForward(l, x);
      if (keep === "all") blocks.push(b);
      else {
        releaseBlockSaved(b);
        blocks.push(null);
        if (keep === "inputs") inputs.push(x);
        else x.release();
      }
      x = b.out;
    }
    const nf = rmsNorm(ctx, x, this.params.get("model.norm.weight") as Tensor, c.rmsNormEps);
    const logits = this.proj(this.head(), nf.y, new Map());
    return { tokens, x0, blocks, inputs, xf: x, nf, logits };
  }

  /** Adds every trainable gradient for upstream dlogits [B, T, V] into this.grads. */
  backward(cache: DecoderCache, dlogits: Tensor): void {
    if (!this.grads.size) throw new Error("Decoder.backward: call enableTraining() first");
    const dnf = this.projBackward(this.head(), cache.nf.y, dlogits, new Map());
    let dx = this.normBackward("model.norm.weight", cache.xf, cache.nf, dnf);
    dnf.release();
    for (let l = this.config.nLayer - 1; l >= 0; l--) {
      const saved = cache.blocks[l];
      if (saved) {
        dx = this.blockBackward(l, saved, dx);
        continue;
      }
      // recompute the block from its input (LoRA dropout draws the same mask: it is seeded, not stored)
      const input = cache.inputs[l];
      if (!input) throw new Error("Decoder.backward: the forward pass kept no activations (forward with keep \"all\" or \"inputs\")");
      const a = this.blockForward(l, input);
      a.out.release();
      dx = this.blockBackward(l, a, dx);
      releaseBlockSaved(a);
    }
    const dE = this.grads.get("model.embed_tokens.weight");
    if (dE) tokenEmbeddingBackward(this.ctx, cache.tokens, dx, dE);
    dx.release();
  }

  /**
   * Forward + backward: gradients of gradScale * (sum of token losses) are added into this.grads.
   * Returns [1] holding lossScale * the sum (for the mean, both 1 / (B T)).
   */
  trainBatch(tokens: Tensor, targets: Tensor, gradScale: number, lossScale = gradScale): Tensor {
    this.dropoutSeed = this.stepSeed;
    try {
      return this.trainBatchInner(tokens, targets, gradScale, lossScale);
    } finally {
      this.dropoutSeed = null;
    }
  }

  private trainBatchInner(tokens: Tensor, targets: Tensor, gradScale: number, lossScale: number): Tensor {
    const cache = this.forward(tokens, this.recompute ? "inputs" : "all");
    const [B, T] = tokens.shape;
    const V = this.config.vocabSize;
    const { losses, dlogits } = crossEntropyWithGrad(this.ctx, cache.logits.reshape([B * T, V]), targets, gradScale);
    const loss = sumAll(this.ctx, losses, { scale: lossScale });
    losses.release();
    this.backward(cache, dlogits.reshape([B, T, V]));
    dlogits.release();
    releaseDecoderCache(cache);
    return loss;
  }

  /** [1] mean cross-entropy (no gradients). */
  meanLoss(tokens: Tensor, targets: Tensor): Tensor {
    const cache = this.forward(tokens, "none");
    const [B, T] = tokens.shape;
    const losses = crossEntropy(this.ctx, cache.logits.reshape([B * T, this.config.vocabSize]), targets);
    const loss = sumAll(this.ctx, losses, { scale: 1 / (B * T) });
    losses.release();
    releaseDecoderCache(cache);
    return loss;
  }

  /** Logits [B, T, V] (caller releases). */
  logits(tokens: Tensor): Tensor {
    const cache = this.forward(tokens, "none");
    releaseDecoderCache(cache, { keepLogits: true });
    return cache.logits;
  }

  // ---------- inference with a key/value cache ----------

  /**
   * One block without saving for backward: positions pos .. pos+T-1, whose rotated keys and values
   * are written into the layer's cache rows; attention runs over cache rows 0 .. pos+T-1.
   */
  private inferBlock(l: number, x: Tensor, pos: number, cache: { k: Tensor; v: Tensor }): Tensor {
    const { ctx, config: c } = this;
    const pre = `model.layers.${l}.`;
    const w = (n: string) => this.params.get(pre + n) as Tensor;
    const none = new Map<string, Tensor>();
    const T = x.shape[1];
    const kvd = c.nKvHead * c.headDim;
    const n1 = rmsNorm(ctx, x, w("input_layernorm.weight"), c.rmsNormEps);
    const q0 = this.proj(pre + "self_attn.q_proj", n1.y, none);
    const k0 = this.proj(pre + "self_attn.k_proj", n1.y, none);
    const v = this.proj(pre + "self_attn.v_proj", n1.y, none);
    releaseNorm(n1);
    const q = rope(ctx, q0, this.rope, { nHead: c.nHead, headDim: c.headDim, positionOffset: pos });
    const k = rope(ctx, k0, this.rope, { nHead: c.nKvHead, headDim: c.headDim, positionOffset: pos });
    ctx.endPass();
    const enc = ctx.getEncoder();
    enc.copyBufferToBuffer(k.buffer, 0, cache.k.buffer, pos * kvd * 4, T * kvd * 4);
    enc.copyBufferToBuffer(v.buffer, 0, cache.v.buffer, pos * kvd * 4, T * kvd * 4);
    for (const t of [q0, k0, k, v]) t.release();
    const kView = new Tensor(cache.k.storage, [1, pos + T, kvd], "f32");
    const vView = new Tensor(cache.v.storage, [1, pos + T, kvd], "f32");
    const att = groupedQueryAttention(ctx, q, kView, vView, this.attnOptions(l));
    q.release();
    releaseGqaSaved(att.saved);
    const x1 = this.proj(pre + "self_attn.o_proj", att.out, none, x);
    att.out.release();
    const n2 = rmsNorm(ctx, x1, w("post_attention_layernorm.weight"), c.rmsNormEps);
    const gate = this.proj(pre + "mlp.gate_proj", n2.y, none);
    const up = this.proj(pre + "mlp.up_proj", n2.y, none);
    releaseNorm(n2);
    const act = swiglu(ctx, gate, up);
    gate.release();
    up.release();
    const out = this.proj(pre + "mlp.down_proj", act, none, x1);
    act.release();
    x1.release();
    return out;
  }

  /** Logits [1, T, V] of tokens at positions pos.. with the caches holding positions < pos. */
  private inferStep(tokens: number[], pos: number, caches: Array<{ k: Tensor; v: Tensor }>): Tensor {
    const { ctx, config: c } = this;
    this.ensureRope(pos + tokens.length);
    const t = ctx.tensor(Int32Array.from(tokens), [1, tokens.length], "i32");
    let x = tokenEmbedding(ctx, t, this.params.get("model.embed_tokens.weight")!);
    t.release();
    for (let l = 0; l < c.nLayer; l++) {
      const y = this.inferBlock(l, x, pos, caches[l]);
      x.release();
      x = y;
    }
    const last = tokens.length === 1 ? x : this.lastRow(x);
    const nf = rmsNorm(ctx, last, this.params.get("model.norm.weight") as Tensor, c.rmsNormEps);
    const logits = this.proj(this.head(), nf.y, new Map());
    releaseNorm(nf);
    if (last !== x) last.release();
    x.release();
    return logits;
  }

  private lastRow(x: Tensor): Tensor {
    const [, T, C] = x.shape;
    const out = this.ctx.empty([1, 1, C]);
    this.ctx.endPass();
    this.ctx.getEncoder().copyBufferToBuffer(x.buffer, (T - 1) * C * 4, out.buffer, 0, C * 4);
    return out;
  }

  /**
   * Greedy decoding of `maxNewTokens` after `prompt` (batch 1). With the key/value cache (default)
   * the prompt runs once and each new token costs one position through every layer; kvCache: false
   * re-runs the whole context per token (the reference path).
   */
  async generateGreedy(prompt: number[], maxNewTokens: number, o: { kvCache?: boolean } = {}): Promise<number[]> {
    return this.generate(prompt, { maxNewTokens, temperature: 0, kvCache: o.kvCache });
  }

  /**
   * Decoding after `prompt` (batch 1): greedy at temperature 0, else a seeded top-k sample
   * (sampleToken, as the GPT's generate); stops after maxNewTokens, a stop sequence (included), or
   * when onToken (called with each new token, for streaming) returns false.
   */
  async generate(
    prompt: number[],
    o: { maxNewTokens: number; temperature?: number; topK?: number; seed?: number; stopTokens?: number[][]; kvCache?: boolean; onToken?: (token: number) => boolean | void },
  ): Promise<number[]> {
    const maxNewTokens = o.maxNewTokens;
    const rand = mulberry32(o.seed ?? 1);
    const stops = (o.stopTokens ?? []).filter((s) => s.length > 0);
    const { ctx, config: c } = this;
    if (prompt.length === 0) throw new Error("generate: the prompt must hold at least one token");
    for (const t of prompt) if (!(Number.isInteger(t) && t >= 0 && t < c.vocabSize)) throw new Error(`generate: token ${t} is outside the vocabulary of ${c.vocabSize}`);
    if (prompt.length + maxNewTokens - 1 > c.maxPositions) throw new Error(`generate: ${prompt.length} + ${maxNewTokens} tokens exceed max_position_embeddings ${c.maxPositions}`);
    const pick = (row: Float32Array) => sampleToken(row, rand, o.temperature ?? 1, o.topK);
    const out: number[] = [];
    const stopped = () => o.onToken?.(out[out.length - 1]) === false || stops.some((st) => st.length <= out.length && st.every((t, i) => out[out.length - st.length + i] === t));
    if (o.kvCache === false) {
      const seq = [...prompt];
      for (let i = 0; i < maxNewTokens; i++) {
        const x = ctx.tensor(Int32Array.from(seq), [1, seq.length], "i32");
        const logits = this.logits(x);
        const [all] = await ctx.readMany([logits]);
        logits.release();
        x.release();
        const next = pick((all as Float32Array).subarray((seq.length - 1) * c.vocabSize));
        seq.push(next);
        out.push(next);
        if (stopped()) break;
      }
      return out;
    }
    const kvd = c.nKvHead * c.headDim;
    // room for exactly the positions this call can reach (not the model's whole context)
    const room = prompt.length + maxNewTokens;
    const caches = Array.from({ length: c.nLayer }, () => ({ k: ctx.empty([1, room, kvd]), v: ctx.empty([1, room, kvd]) }));
    try {
      let pos = 0;
      let feed = prompt;
      for (let i = 0; i < maxNewTokens; i++) {
        const logits = this.inferStep(feed, pos, caches);
        const [row] = await ctx.readMany([logits]);
        logits.release();
        pos += feed.length;
        const next = pick(row as Float32Array);
        out.push(next);
        if (stopped()) break;
        feed = [next];
      }
    } finally {
      for (const cc of caches) {
        cc.k.release();
        cc.v.release();
      }
    }
    return out;
  }

  async readGradients(): Promise<Map<string, Float32Array>> {
    const names = [...this.grads.keys()];
    const data = await this.ctx.readMany(names.map((n) => this.grads.get(n)!));
    return new Map(names.map((n, i) => [n, data[i] as Float32Array]));
  }

  /** A parameter's values as f32 (16-bit ones decoded exactly). */
  async readParameter(name: string): Promise<Float32Array> {
    const p = this.params.get(name);
    if (!p) throw new Error(`Decoder: no parameter "${name}"`);
    if (!isWeight16(p)) return (await this.ctx.read(p)) as Float32Array;
    const bytes = await readWeight16Bytes(this.ctx, p);
    const bits = new Uint16Array(bytes.buffer, bytes.byteOffset, p.size);
    return Float32Array.from(bits, p.half === "f16" ? f16ToF32 : bf16ToF32);
  }

  /**
   * The base weights as a safetensors file in Hugging Face naming, each tensor in its checkpoint
   * dtype: an unmodified import exports bit-identical tensors; trained f32 master weights of a 16-bit
   * checkpoint are rounded to it (nearest even). `dtype: "f32"` writes every tensor as F32 instead.
   * (f32 weights rounded to f16 at load export as F16.) `mergeLora` folds the adapters into their
   * base weights (W + alpha/r B A, as peft's merge_and_unload); otherwise they are left out.
   */
  async exportSafetensors(metadata: Record<string, string> = { format: "pt" }, o: { dtype?: "source" | "f32"; mergeLora?: boolean } = {}): Promise<Uint8Array> {
    const out = new Map<string, { dtype: SafetensorsDType; shape: number[]; bytes: Uint8Array }>();
    const asBytes = (v: Float32Array) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
    for (const [name, p] of this.params) {
      if (/\.lora_[AB]$/.test(name)) continue;
      const mod = name.replace(/\.weight$/, "");
      const ad = o.mergeLora && name.endsWith(".weight") ? this.lora.get(mod) : undefined;
      const src: SafetensorsDType = o.dtype === "f32" ? "F32" : isWeight16(p) ? (p.half === "f16" ? "F16" : "BF16") : (this.sourceDtypes.get(name) ?? "F32");
      if (!ad && isWeight16(p) && src !== "F32") {
        out.set(name, { dtype: src, shape: [...p.shape], bytes: await readWeight16Bytes(this.ctx, p) });
        continue;
      }
      const v = await this.readParameter(name);
      if (ad) {
        // W + scale * B A, summed in f32 (peft's merge), then written in the checkpoint's dtype
        const delta = matmul(this.ctx, this.params.get(`${mod}.lora_B`) as Tensor, this.params.get(`${mod}.lora_A`) as Tensor, { alpha: ad.scale });
        const d = (await this.ctx.read(delta)) as Float32Array;
        delta.release();
        for (let i = 0; i < v.length; i++) v[i] += d[i];
      }
      if (src === "F32") out.set(name, { dtype: "F32", shape: [...p.shape], bytes: asBytes(v) });
      else {
        const bits = Uint16Array.from(v, src === "F16" ? f32ToF16 : f32ToBf16);
        out.set(name, { dtype: src, shape: [...p.shape], bytes: new Uint8Array(bits.buffer) });
      }
    }
    return encodeSafetensors(out, metadata);
  }

  release(): void {
    for (const t of this.params.values()) if (!t.released) t.release();
    for (const map of [this.grads, this.m, this.v]) {
      for (const t of map.values()) t.release();
      map.clear();
    }
    this.params.clear();
    this.rope.cos.release();
    this.rope.sin.release();
  }
}

/** bfloat16 nearest to a float32 (round to nearest even); exact for values that came from bf16. */
export function f32ToBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x40;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function upload(ctx: GpuContext, t: StreamedTensor, o: DecoderLoadOptions): AnyWeight {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const precision = o.precision ?? "16bit";
  if (t.dtype === "F32") {
    const f = new Float32Array(n);
    new Uint8Array(f.buffer).set(t.bytes);
    if (precision === "16bit" && o.f32Weights === "f16") return uploadWeight16(ctx, Uint16Array.from(f, f32ToF16), t.shape, "f16");
    return ctx.tensor(f, t.shape);
  }
  const half = t.dtype === "F16" ? "f16" : "bf16";
  if (precision === "16bit") return uploadWeight16(ctx, t.bytes, t.shape, half);
  const bits = new Uint16Array(n);
  new Uint8Array(bits.buffer).set(t.bytes);
  return ctx.tensor(Float32Array.from(bits, half === "f16" ? f16ToF32 : bf16ToF32), t.shape);
}

