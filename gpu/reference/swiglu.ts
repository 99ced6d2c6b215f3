// CPU reference SwiGLU (float64): silu(gate) * up.

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

export function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => gate[i] * sigmoid(gate[i]) * up[i]);
}

export function swigluBackwardRef(gate: ArrayLike<number>, up: ArrayLike<number>, dy: ArrayLike<number>) {
  const dgate = new Float64Array(gate.length);
  const dup = new Float64Array(gate.length);
  for (let i = 0; i < gate.length; i++) {
    const s = sigmoid(gate[i]);
    dgate[i] = dy[i] * up[i] * s * (1 + gate[i] * (1 - s));
    dup[i] = dy[i] * gate[i] * s;
  }
  return { dgate, dup };
}
