// CPU references (float64) for residual add, bias add and GELU.

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: a.length }, (_, i) => a[i] + b[i]);
}

export function biasAddRef(x: ArrayLike<number>, bias: ArrayLike<number>): Float64Array {
  const C = bias.length;
  return Float64Array.from({ length: x.length }, (_, i) => x[i] + bias[i % C]);
}

/** Sum over leading axes: out[c] = sum_r x[r, c]. */
export function sumLeadingRef(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(cols);
  for (let i = 0; i < x.length; i++) out[i % cols] += x[i];
  return out;
}

export function sumLastAxisRef(x: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(x.length / cols);
  for (let i = 0; i < x.length; i++) out[Math.floor(i / cols)] += x[i];
  return out;
}

const S = Math.sqrt(2 / Math.PI);

export function geluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const v = x[i];
    return 0.5 * v * (1 + Math.tanh(S * (v + 0.044715 * v ** 3)));
  });
}

export function geluBackwardRef(x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: x.length }, (_, i) => {
    const v = x[i];
    const t = Math.tanh(S * (v + 0.044715 * v ** 3));
    return dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * S * (1 + 3 * 0.044715 * v * v));
  });
}
