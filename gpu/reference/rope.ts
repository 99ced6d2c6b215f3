// CPU reference rotary embeddings (float64 rotation) in the rotate-half layout, written directly
// from transformers' apply_rotary_pos_emb: out = x * cos + rotate_half(x) * sin, where
// rotate_half(x) = cat(-x[D/2:], x[:D/2]) and cos, sin = cat(freqs, freqs).cos(), .sin().

/** x [B, T, nHead * D]; cos, sin [positions, D/2] (any precision); token t at position offset + t. */
export function ropeRef(x: ArrayLike<number>, cos: ArrayLike<number>, sin: ArrayLike<number>, s: { B: number; T: number; nHead: number; headDim: number; positionOffset?: number }): Float64Array {
  const { B, T, nHead, headDim: D } = s;
  const half = D / 2;
  const out = new Float64Array(B * T * nHead * D);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const pos = t + (s.positionOffset ?? 0);
      for (let h = 0; h < nHead; h++) {
        const base = ((b * T + t) * nHead + h) * D;
        for (let d = 0; d < D; d++) {
          const c = cos[pos * half + (d % half)];
          const sn = sin[pos * half + (d % half)];
          const rotated = d < half ? -x[base + d + half] : x[base + d - half];
          out[base + d] = x[base + d] * c + rotated * sn;
        }
      }
    }
  }
  return out;
}
