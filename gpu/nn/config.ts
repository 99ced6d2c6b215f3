// GPT configurations as plain data, with named presets (nanoGPT's GPTConfig).

export interface GPTConfig {
  vocabSize: number;
  /** Context length (positions in wpe). */
  blockSize: number;
  nLayer: number;
  nHead: number;
  nEmbd: number;
}

export const GPT_PRESETS = {
  /** Runs in tests on a CPU-emulated adapter: about 30k parameters. */
  tiny: { vocabSize: 128, blockSize: 32, nLayer: 2, nHead: 4, nEmbd: 32 },
  /** A laptop-GPU character model: about 0.9M parameters. */
  small: { vocabSize: 512, blockSize: 128, nLayer: 4, nHead: 4, nEmbd: 128 },
  /** About 7M parameters. */
  medium: { vocabSize: 4096, blockSize: 256, nLayer: 6, nHead: 6, nEmbd: 288 },
  /** About 30M parameters. */
  large: { vocabSize: 8192, blockSize: 512, nLayer: 8, nHead: 8, nEmbd: 512 },
  /** GPT-2 small's shape (124M), for importing its checkpoints. */
  gpt2: { vocabSize: 50257, blockSize: 1024, nLayer: 12, nHead: 12, nEmbd: 768 },
} as const satisfies Record<string, GPTConfig>;

export type GPTPresetName = keyof typeof GPT_PRESETS;

export function gptPreset(name: GPTPresetName, overrides: Partial<GPTConfig> = {}): GPTConfig {
  const base = GPT_PRESETS[name];
  if (!base) throw new Error(`unknown GPT preset "${name}"; choose one of ${Object.keys(GPT_PRESETS).join(", ")}`);
  return validateConfig({ ...base, ...overrides });
}

export function validateConfig(c: GPTConfig): GPTConfig {
  for (const k of ["vocabSize", "blockSize", "nLayer", "nHead", "nEmbd"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new Error(`GPT config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.nEmbd % c.nHead !== 0) throw new Error(`GPT config: nHead ${c.nHead} must divide nEmbd ${c.nEmbd}`);
  return { vocabSize: c.vocabSize, blockSize: c.blockSize, nLayer: c.nLayer, nHead: c.nHead, nEmbd: c.nEmbd };
}

/** Parameter names and shapes in order (GPT-2's names without the "transformer." prefix). */
export function parameterShapes(c: GPTConfig): Array<[string, number[]]> {
  const C = c.nEmbd;
  const out: Array<[string, number[]]> = [
    ["wte.weight", [c.vocabSize, C]],
    ["wpe.weight", [c.blockSize, C]],
  ];
  for (let l = 0; l < c.nLayer; l++) {
    const p = `h.${l}.`;
    out.push(
      [p + "ln_1.weight", [C]],
      [p + "ln_1.bias", [C]],
      [p + "attn.c_attn.weight", [C, 3 * C]],
      [p + "attn.c_attn.bias", [3 * C]],
      [p + "attn.c_proj.weight", [C, C]],
      [p + "attn.c_proj.bias", [C]],
      [p + "ln_2.weight", [C]],
      [p + "ln_2.bias", [C]],
      [p + "mlp.c_fc.weight", [C, 4 * C]],
      [p + "mlp.c_fc.bias", [4 * C]],
      [p + "mlp.c_proj.weight", [4 * C, C]],
      [p + "mlp.c_proj.bias", [C]],
    );
  }
  out.push(["ln_f.weight", [C]], ["ln_f.bias", [C]]);
  return out;
}

export function parameterCount(c: GPTConfig): number {
  return parameterShapes(c).reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
}

/** Seeded PRNG (mulberry32) and Box-Muller normals: the same init on every platform. */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normalSampler(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

/**
 * GPT-2 init: weights N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 nLayer)), biases 0,
 * LayerNorm gains 1. Returns host arrays in parameterShapes order.
 */
export function initParameters(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const normal = normalSampler(mulberry32(seed));
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (/ln_\w+\.weight$/.test(name)) a.fill(1);
    else if (name.endsWith(".weight")) {
      const std = name.endsWith("c_proj.weight") ? 0.02 / Math.sqrt(2 * c.nLayer) : 0.02;
      for (let i = 0; i < n; i++) a[i] = normal() * std;
    }
    out.set(name, a);
  }
  return out;
}

/** Weight decay applies to matrices and embeddings only (nanoGPT), never to biases or LayerNorm. */
export function decays(name: string): boolean {
  return name.endsWith(".weight") && !/ln_\w+\.weight$/.test(name);
}
