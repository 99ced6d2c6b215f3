// CPU reference cross-entropy from logits (float64); targets < 0 are ignored.

export function crossEntropyRef(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number): Float64Array {
  const losses = new Float64Array(targets.length);
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] < 0) continue;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, logits[r * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - mx);
    losses[r] = Math.log(s) + mx - logits[r * V + targets[r]];
  }
  return losses;
}

/** dlogits = (softmax - onehot) * dloss[r]. */
export function crossEntropyBackwardRef(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number, dlosses: ArrayLike<number>): Float64Array {
  const d = new Float64Array(logits.length);
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] < 0) continue;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, logits[r * V + j]);
    let s = 0;
    for (let j = 0; j < V; j++) s += Math.exp(logits[r * V + j] - mx);
    for (let j = 0; j < V; j++) d[r * V + j] = (Math.exp(logits[r * V + j] - mx) / s - (j === targets[r] ? 1 : 0)) * dlosses[r];
  }
  return d;
}
