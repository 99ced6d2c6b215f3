// Rotary position embeddings in Hugging Face's rotate-half layout: in each head of D values,
// value i pairs with value i + D/2 and the pair turns by the angle pos * inv_freq[i]:
//   out[i]       = x[i] cos - x[i + D/2] sin
//   out[i + D/2] = x[i + D/2] cos + x[i] sin
// `sign` = -1 turns the other way: the inverse (= transposed) rotation, which is the backward.
// x and out are [B, T, H * D]; cos and sin are [max_positions, D/2]; token t sits at position
// t + offset. One invocation per pair.
struct Params {
  pairs: u32,
  T: u32,
  H: u32,
  half: u32,
  offset: u32,
  max_positions: u32,
  sign: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> cos_table: array<f32>;
@group(0) @binding(3) var<storage, read> sin_table: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.y * nwg.x + wid.x) * WG + lid;
  if (idx >= p.pairs) {
    return;
  }
  let i = idx % p.half;
  let head = idx / p.half; // (b, t, h) flattened
  let t = (head / p.H) % p.T;
  let lo = head * 2u * p.half + i;
  let hi = lo + p.half;
  let pos = t + p.offset;
  if (pos >= p.max_positions) {
    // the op checks positions; should one slip through, make it visible rather than read out of bounds
    let nan_bits = 0x7fc00000u; // a let, not a constant: a constant NaN is a shader-creation error
    let nan = bitcast<f32>(nan_bits);
    out[lo] = nan;
    out[hi] = nan;
    return;
  }
  let c = cos_table[pos * p.half + i];
  let s = p.sign * sin_table[pos * p.half + i];
  let a = x[lo];
  let b = x[hi];
  out[lo] = a * c - b * s;
  out[hi] = b * c + a * s;
}
