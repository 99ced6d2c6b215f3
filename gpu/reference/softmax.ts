// CPU reference softmax (float64) over rows, with scale and causal mask (row r sees j <= r mod T).

export function softmaxRef(x: ArrayLike<number>, cols: number, o: { scale?: number; causal?: boolean } = {}): Float64Array {
  const rows = x.length / cols;
  const scale = o.scale ?? 1;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    const lim = o.causal ? Math.min(cols, (r % cols) + 1) : cols;
    let mx = -Infinity;
    for (let j = 0; j < lim; j++) mx = Math.max(mx, scale * x[r * cols + j]);
    let s = 0;
    for (let j = 0; j < lim; j++) s += Math.exp(scale * x[r * cols + j] - mx);
    for (let j = 0; j < lim; j++) y[r * cols + j] = Math.exp(scale * x[r * cols + j] - mx) / s;
  }
  return y;
}

export function softmaxBackwardRef(y: ArrayLike<number>, dy: ArrayLike<number>, cols: number, scale = 1): Float64Array {
  const dx = new Float64Array(y.length);
  for (let r = 0; r < y.length / cols; r++) {
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[r * cols + j] * y[r * cols + j];
    for (let j = 0; j < cols; j++) dx[r * cols + j] = scale * y[r * cols + j] * (dy[r * cols + j] - dot);
  }
  return dx;
}
