// CPU reference grouped-query causal attention with an optional sliding window (float64), written
// directly from the definition (no shared code with the GPU composition):
//   q [B, Tq, H*hd], k and v [B, Tk, Hkv*hd]; head h reads kv head floor(h / (H / Hkv));
//   query i sits at position pos = Tk - Tq + i and sees keys j with j <= pos and j > pos - window.

export interface GqaRefShape {
  B: number;
  Tq: number;
  Tk: number;
  nHead: number;
  nKvHead: number;
  headDim: number;
  window?: number;
  scale?: number;
}

export function gqaRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: GqaRefShape): Float64Array {
  const { B, Tq, Tk, nHead: H, nKvHead: Hkv, headDim: hd } = s;
  const G = H / Hkv;
  const scale = s.scale ?? 1 / Math.sqrt(hd);
  const out = new Float64Array(B * Tq * H * hd);
  const w = new Float64Array(Tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / G);
      for (let i = 0; i < Tq; i++) {
        const pos = Tk - Tq + i;
        const first = s.window ? Math.max(0, pos - s.window + 1) : 0;
        const qAt = (b * Tq + i) * H * hd + h * hd;
        let mx = -Infinity;
        for (let j = first; j <= pos; j++) {
          const kAt = (b * Tk + j) * Hkv * hd + kvh * hd;
          let dot = 0;
          for (let d = 0; d < hd; d++) dot += q[qAt + d] * k[kAt + d];
          w[j] = dot * scale;
          mx = Math.max(mx, w[j]);
        }
        let sum = 0;
        for (let j = first; j <= pos; j++) sum += (w[j] = Math.exp(w[j] - mx));
        for (let d = 0; d < hd; d++) {
          let acc = 0;
          for (let j = first; j <= pos; j++) acc += (w[j] / sum) * v[(b * Tk + j) * Hkv * hd + kvh * hd + d];
          out[qAt + d] = acc;
        }
      }
    }
  }
  return out;
}
