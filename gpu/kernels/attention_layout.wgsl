// Layout moves for multi-head attention (C = H * hd):
//   split_qkv: qkv [B, T, 3C] -> q, k, v each [B, H, T, hd]
//   merge:     y [B, H, T, hd] -> out [B, T, C]
//   split:     src [B, T, C] -> dst [B, H, T, hd]          (upstream gradient into heads)
//   merge_qkv: dq, dk, dv [B, H, T, hd] -> dqkv [B, T, 3C]
// One invocation per element of a [B, H, T, hd] tensor.
struct Params {
  B: u32,
  T: u32,
  H: u32,
  hd: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> k: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read> heads_in: array<f32>;
@group(0) @binding(6) var<storage, read_write> flat_out: array<f32>;
@group(0) @binding(7) var<storage, read> flat_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> heads_out: array<f32>;
@group(0) @binding(9) var<storage, read> dq: array<f32>;
@group(0) @binding(10) var<storage, read> dk: array<f32>;
@group(0) @binding(11) var<storage, read> dv: array<f32>;
@group(0) @binding(12) var<storage, read_write> dqkv: array<f32>;

override WG: u32 = 256;

// Index of element i of [B, H, T, hd] in a [B, T, width] row-major tensor, head h at column h*hd.
fn flat_index(i: u32, width: u32) -> u32 {
  let d = i % p.hd;
  let t = (i / p.hd) % p.T;
  let h = (i / (p.hd * p.T)) % p.H;
  let b = i / (p.hd * p.T * p.H);
  return (b * p.T + t) * width + h * p.hd + d;
}

fn index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn split_qkv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.B * p.H * p.T * p.hd) {
    return;
  }
  let C = p.H * p.hd;
  let j = flat_index(i, 3u * C);
  q[i] = qkv[j];
  k[i] = qkv[j + C];
  v[i] = qkv[j + 2u * C];
}

@compute @workgroup_size(WG)
fn merge(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.B * p.H * p.T * p.hd) {
    return;
  }
  flat_out[flat_index(i, p.H * p.hd)] = heads_in[i];
}

@compute @workgroup_size(WG)
fn split(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.B * p.H * p.T * p.hd) {
    return;
  }
  heads_out[i] = flat_in[flat_index(i, p.H * p.hd)];
}

@compute @workgroup_size(WG)
fn merge_qkv(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = index(wid, nwg, lid);
  if (i >= p.B * p.H * p.T * p.hd) {
    return;
  }
  let C = p.H * p.hd;
  let j = flat_index(i, 3u * C);
  dqkv[j] = dq[i];
  dqkv[j + C] = dk[i];
  dqkv[j + 2u * C] = dv[i];
}
