// CPU references (float64) for AdamW and global gradient-norm clipping.

export interface AdamWRefConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export function adamwRef(param: ArrayLike<number>, grad: ArrayLike<number>, m: ArrayLike<number>, v: ArrayLike<number>, step: number, cfg: AdamWRefConfig, gradScale = 1) {
  const n = param.length;
  const p2 = new Float64Array(n);
  const m2 = new Float64Array(n);
  const v2 = new Float64Array(n);
  const bc1 = 1 - cfg.beta1 ** step;
  const bc2 = 1 - cfg.beta2 ** step;
  for (let i = 0; i < n; i++) {
    const g = grad[i] * gradScale;
    const w = param[i] - cfg.lr * cfg.weightDecay * param[i];
    m2[i] = cfg.beta1 * m[i] + (1 - cfg.beta1) * g;
    v2[i] = cfg.beta2 * v[i] + (1 - cfg.beta2) * g * g;
    p2[i] = w - (cfg.lr * (m2[i] / bc1)) / (Math.sqrt(v2[i] / bc2) + cfg.eps);
  }
  return { param: p2, m: m2, v: v2 };
}

export function globalNormRef(grads: ArrayLike<number>[], maxNorm = Infinity): { norm: number; scale: number } {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i] * g[i];
  const norm = Math.sqrt(s);
  return { norm, scale: Math.min(1, maxNorm / (norm + 1e-6)) };
}
