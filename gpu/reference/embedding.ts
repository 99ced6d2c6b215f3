// CPU reference token + position embedding (float64).

export function embeddingRef(tokens: ArrayLike<number>, wte: ArrayLike<number>, wpe: ArrayLike<number>, T: number, C: number): Float64Array {
  const V = wte.length / C;
  const out = new Float64Array(tokens.length * C);
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    for (let c = 0; c < C; c++) out[i * C + c] = (tok >= 0 && tok < V ? wte[tok * C + c] : 0) + wpe[(i % T) * C + c];
  }
  return out;
}

export function embeddingBackwardRef(tokens: ArrayLike<number>, dout: ArrayLike<number>, V: number, maxT: number, T: number, C: number) {
  const dwte = new Float64Array(V * C);
  const dwpe = new Float64Array(maxT * C);
  for (let i = 0; i < tokens.length; i++) {
    for (let c = 0; c < C; c++) {
      if (tokens[i] >= 0 && tokens[i] < V) dwte[tokens[i] * C + c] += dout[i * C + c];
      dwpe[(i % T) * C + c] += dout[i * C + c];
    }
  }
  return { dwte, dwpe };
}
