// Inverted dropout with a stateless mask: element i is kept when hash(seed, i) >= p * 2^32, and
// kept values are scaled by 1 / (1 - p). The mask is a function of (seed, i) alone, so the backward
// pass applies the same mask to the gradient by running this kernel again with the same seed;
// nothing is stored between the passes.
// Params: u32 fields, then f32 fields, in this order.
struct Params {
  n: u32,
  seed: u32,
  threshold: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

override WG: u32 = 256;

// PCG hash (Jarzynski and Olano, "Hash Functions for GPU Rendering", 2020).
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < p.n) {
    let keep = pcg(i ^ pcg(p.seed)) >= p.threshold;
    y[i] = select(0.0, x[i] * p.scale, keep);
  }
}
