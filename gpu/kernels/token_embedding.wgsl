// Token embedding without positions (rotary models): out[bt, c] = E[tokens[bt], c].
//   gather_f32 / gather_16: E in f32, or 16-bit packed two per u32 (half_unpack.wgsli); ids >= V read as 0
//   backward: dE[v, c] += sum over bt with tokens[bt] == v of dout[bt, c]; each invocation owns one
//             channel and one vocabulary slice and walks the tokens in order (no races, fixed order).
struct Params {
  BT: u32,
  C: u32,
  V: u32,
  vchunks: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<u32>;
@group(0) @binding(2) var<storage, read> table: array<f32>;
@group(0) @binding(3) var<storage, read> table16: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> dout: array<f32>;
@group(0) @binding(6) var<storage, read_write> dtable: array<f32>;

override WG: u32 = 256;
override HALF: u32 = 0;

// #include "half_unpack.wgsli"

fn index_of(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn gather_f32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index_of(wid, nwg, lid);
  if (i >= p.BT * p.C) {
    return;
  }
  let tok = tokens[i / p.C];
  var v = 0.0;
  if (tok < p.V) {
    v = table[tok * p.C + i % p.C];
  }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn gather_16(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index_of(wid, nwg, lid);
  if (i >= p.BT * p.C) {
    return;
  }
  let tok = tokens[i / p.C];
  var v = 0.0;
  if (tok < p.V) {
    let e = tok * p.C + i % p.C;
    let word = table16[e >> 1u];
    v = half_bits_to_f32(select(word & 0xffffu, word >> 16u, (e & 1u) == 1u));
  }
  out[i] = v;
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index_of(wid, nwg, lid);
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
      dtable[j] = dtable[j] + dout[bt * p.C + c];
    }
  }
}
