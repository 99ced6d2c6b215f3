// CPU reference causal multi-head self-attention (float64), written directly (no shared code
// with the GPU composition): qkv [B, T, 3C] -> out [B, T, C].

export function attentionRef(qkv: ArrayLike<number>, B: number, T: number, C: number, H: number): Float64Array {
  const hd = C / H;
  const out = new Float64Array(B * T * C);
  const scale = 1 / Math.sqrt(hd);
  const at = (b: number, t: number, part: number, h: number, d: number) => qkv[(b * T + t) * 3 * C + part * C + h * hd + d];
  const w = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        let mx = -Infinity;
        for (let s = 0; s <= t; s++) {
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += at(b, t, 0, h, d) * at(b, s, 1, h, d);
          w[s] = dot * scale;
          mx = Math.max(mx, w[s]);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) sum += (w[s] = Math.exp(w[s] - mx));
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let s = 0; s <= t; s++) acc += (w[s] / sum) * at(b, s, 2, h, d);
          out[(b * T + t) * C + h * hd + d] = acc;
        }
      }
    }
  }
  return out;
}
