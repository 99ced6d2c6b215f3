// CPU reference LayerNorm (float64) over rows of C.

export function layerNormRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps = 1e-5) {
  const C = gamma.length;
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = 0; j < C; j++) s += x[r * C + j];
    const mu = s / C;
    let q = 0;
    for (let j = 0; j < C; j++) q += (x[r * C + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(q / C + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < C; j++) y[r * C + j] = (x[r * C + j] - mu) * rs * gamma[j] + beta[j];
  }
  return { y, mean, rstd };
}

export function layerNormBackwardRef(x: ArrayLike<number>, gamma: ArrayLike<number>, dy: ArrayLike<number>, eps = 1e-5) {
  const C = gamma.length;
  const rows = x.length / C;
  const { mean, rstd } = layerNormRef(x, gamma, new Float64Array(C), eps);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(C);
  const dbeta = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < C; j++) {
      const xhat = (x[r * C + j] - mean[r]) * rstd[r];
      const g = dy[r * C + j] * gamma[j];
      a += g;
      b += g * xhat;
      dgamma[j] += dy[r * C + j] * xhat;
      dbeta[j] += dy[r * C + j];
    }
    a /= C;
    b /= C;
    for (let j = 0; j < C; j++) {
      const xhat = (x[r * C + j] - mean[r]) * rstd[r];
      dx[r * C + j] = rstd[r] * (dy[r * C + j] * gamma[j] - a - xhat * b);
    }
  }
  return { dx, dgamma, dbeta };
}
