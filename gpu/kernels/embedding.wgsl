// Token + position embedding.
//   forward:      out[bt, c] = wte[tokens[bt], c] + wpe[bt mod T, c]   (token ids >= V read as 0)
//   backward_wte: dwte[v, c] += sum over bt with tokens[bt] == v of dout[bt, c]
//                 Each invocation owns one channel c and one slice of the vocabulary, and walks the
//                 tokens in order: no two invocations write the same row entry, so no races and no
//                 atomics, and the sum order is fixed (deterministic).
//   backward_wpe: dwpe[t, c] += sum_b dout[b T + t, c]
struct Params {
  BT: u32,
  T: u32,
  C: u32,
  V: u32,
  vchunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> wte: array<f32>;
@group(0) @binding(3) var<storage, read> wpe: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read_write> dwte: array<f32>;
@group(0) @binding(7) var<storage, read_write> dwpe: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.BT * p.C) {
    return;
  }
  let bt = i / p.C;
  let c = i % p.C;
  let tok = tokens[bt];
  var v = 0.0;
  if (tok < p.V) {
    v = wte[tok * p.C + c];
  }
  out[i] = v + wpe[(bt % p.T) * p.C + c];
}

@compute @workgroup_size(WG)
fn backward_wte(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.C * p.vchunks) {
    return;
  }
  let c = i % p.C;
  let chunk = i / p.C;
  let rows_per_chunk = (p.V + p.vchunks - 1u) / p.vchunks;
  let lo = chunk * rows_per_chunk;
  let hi = min(p.V, lo + rows_per_chunk);
  for (var bt = 0u; bt < p.BT; bt++) {
    let tok = tokens[bt];
    if (tok >= lo && tok < hi) {
      let j = tok * p.C + c;
      dwte[j] = dwte[j] + dout[bt * p.C + c];
    }
  }
}

@compute @workgroup_size(WG)
fn backward_wpe(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.T * p.C) {
    return;
  }
  let t = i / p.C;
  let c = i % p.C;
  var s = 0.0;
  for (var b = 0u; b < p.BT / p.T; b++) {
    s += dout[(b * p.T + t) * p.C + c];
  }
  dwpe[i] = dwpe[i] + s;
}
