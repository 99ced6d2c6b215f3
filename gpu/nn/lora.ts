// LoRA (Hu et al. 2021): a frozen GPT plus trainable low-rank adapters on chosen projections,
// y = x W + b + (alpha / rank) (x A) B. A starts uniform in +-1/sqrt(in), B at zero, so an
// attached adapter leaves the model's outputs unchanged until it trains.

import { accumulate } from "../ops/elementwise";
import { matmul } from "../ops/matmul";
import { mulberry32 } from "./config";
import type { GPT } from "./gpt";

export type LoraTarget = "attn.c_attn" | "attn.c_proj" | "mlp.c_fc" | "mlp.c_proj";

export interface LoraConfig {
  rank: number;
  alpha: number;
  targets: LoraTarget[];
}

export const LORA_DEFAULTS: LoraConfig = { rank: 8, alpha: 16, targets: ["attn.c_attn", "attn.c_proj"] };

/** Adapter tensor names and shapes for a model, in a fixed order. */
export function loraShapes(model: Pick<GPT, "config" | "params">, cfg: LoraConfig): Array<[string, number[]]> {
  const out: Array<[string, number[]]> = [];
  for (let l = 0; l < model.config.nLayer; l++) {
    for (const t of cfg.targets) {
      const [inp, outDim] = model.params.get(`h.${l}.${t}.weight`)!.shape;
      out.push([`h.${l}.${t}.lora_A`, [inp, cfg.rank]], [`h.${l}.${t}.lora_B`, [cfg.rank, outDim]]);
    }
  }
  return out;
}

/**
 * Adds adapters to `model` (as parameters named h.N.<target>.lora_A / lora_B) and freezes the
 * base: training then updates only the adapters. `weights` restores saved adapters.
 */
export function attachLora(model: GPT, cfg: LoraConfig, o: { seed?: number; weights?: Map<string, Float32Array> } = {}): void {
  if (!Number.isInteger(cfg.rank) || cfg.rank < 1) throw new Error(`LoRA: rank must be a positive integer, got ${cfg.rank}`);
  if (model.lora.size) throw new Error("LoRA: this model already has adapters; merge or detach them first");
  const rand = mulberry32(o.seed ?? 7);
  for (const [name, shape] of loraShapes(model, cfg)) {
    const n = shape[0] * shape[1];
    let data = o.weights?.get(name);
    if (o.weights && !data) throw new Error(`LoRA: saved adapters lack "${name}"`);
    if (data && data.length !== n) throw new Error(`LoRA: "${name}" has ${data.length} values, expected [${shape.join(", ")}]`);
    if (!data) {
      const bound = 1 / Math.sqrt(shape[0]);
      data = name.endsWith("lora_A") ? Float32Array.from({ length: n }, () => (rand() * 2 - 1) * bound) : new Float32Array(n);
    }
    model.params.set(name, model.ctx.tensor(data, shape));
  }
  for (let l = 0; l < model.config.nLayer; l++) for (const t of cfg.targets) model.lora.set(`h.${l}.${t}`, { scale: cfg.alpha / cfg.rank });
  model.loraConfig = { ...cfg, targets: [...cfg.targets] };
  model.frozenBase = true;
  if (model.grads.size) model.enableTraining();
}

/** Folds the adapters into the base weights (W += scale A B) and removes them; the base trains again. */
export function mergeLora(model: GPT): void {
  const { ctx } = model;
  for (const [name, ad] of model.lora) {
    const A = model.params.get(`${name}.lora_A`)!;
    const B = model.params.get(`${name}.lora_B`)!;
    const delta = matmul(ctx, A, B, { alpha: ad.scale });
    accumulate(ctx, model.params.get(`${name}.weight`)!, delta);
    delta.release();
    for (const k of [`${name}.lora_A`, `${name}.lora_B`]) {
      model.params.get(k)!.release();
      model.params.delete(k);
    }
  }
  model.lora.clear();
  model.loraConfig = undefined;
  model.frozenBase = false;
  if (model.grads.size) model.enableTraining();
}

/** Host weights with adapters merged (float64), for the CPU reference. */
export function mergedWeightsRef(weights: Map<string, ArrayLike<number>>, cfg: LoraConfig, nLayer: number): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>();
  for (const [k, v] of weights) if (!/\.lora_[AB]$/.test(k)) out.set(k, Float64Array.from(v));
  for (let l = 0; l < nLayer; l++) {
    for (const t of cfg.targets) {
      const name = `h.${l}.${t}`;
      const W = out.get(`${name}.weight`)!;
      const A = weights.get(`${name}.lora_A`)!;
      const B = weights.get(`${name}.lora_B`)!;
      const r = cfg.rank;
      const N = B.length / r;
      const K = A.length / r;
      for (let i = 0; i < K; i++) for (let j = 0; j < N; j++) {
        let s = 0;
        for (let q = 0; q < r; q++) s += A[i * r + q] * B[q * N + j];
        W[i * N + j] += (cfg.alpha / r) * s;
      }
    }
  }
  return out;
}
