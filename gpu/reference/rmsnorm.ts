// CPU reference RMSNorm (float64) over rows of C: y = weight * x / sqrt(mean(x^2) + eps).

export function rmsNormRef(x: ArrayLike<number>, weight: ArrayLike<number>, eps: number) {
  const C = weight.length;
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let q = 0;
    for (let j = 0; j < C; j++) q += x[r * C + j] ** 2;
    const rs = 1 / Math.sqrt(q / C + eps);
    rstd[r] = rs;
    for (let j = 0; j < C; j++) y[r * C + j] = weight[j] * (x[r * C + j] * rs);
  }
  return { y, rstd };
}

/** Analytic gradients of sum(dy * rmsNorm(x)): dx = rstd (g - xhat mean(g xhat)), g = dy weight. */
export function rmsNormBackwardRef(x: ArrayLike<number>, weight: ArrayLike<number>, dy: ArrayLike<number>, eps: number) {
  const C = weight.length;
  const rows = x.length / C;
  const { rstd } = rmsNormRef(x, weight, eps);
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let gx = 0;
    for (let j = 0; j < C; j++) {
      const xhat = x[r * C + j] * rstd[r];
      gx += dy[r * C + j] * weight[j] * xhat;
      dweight[j] += dy[r * C + j] * xhat;
    }
    gx /= C;
    for (let j = 0; j < C; j++) dx[r * C + j] = rstd[r] * (dy[r * C + j] * weight[j] - x[r * C + j] * rstd[r] * gx);
  }
  return { dx, dweight };
}
