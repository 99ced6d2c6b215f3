// RMSNorm over the last axis (C channels), as Hugging Face's LlamaRMSNorm, all in f32:
//   forward:  rstd = 1/sqrt(mean(x^2) + eps); y = weight * (x rstd); saves rstd
//   backward: xhat = x rstd, g = dy weight
//             dx = rstd (g - xhat mean(g xhat))  (+ dres when add_residual: the gradient arriving
//             through a residual connection around the norm's block, summed in)
//   params_backward: dweight[c] (+)= sum_r dy xhat (one invocation per channel, rows summed in
//             order: deterministic, no atomics)
// forward/backward give each row a workgroup (tree reduction, any subgroup size); *_serial give
// each row one invocation (no barriers). The engine measures which layout is faster (rowDispatch).
struct Params {
  rows: u32,
  C: u32,
  accumulate: u32,
  add_residual: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> rstd_out: array<f32>;
@group(0) @binding(5) var<storage, read> dy: array<f32>;
@group(0) @binding(6) var<storage, read_write> dx: array<f32>;
@group(0) @binding(7) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(8) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(9) var<storage, read> dres: array<f32>;

override WG: u32 = 64;
var<workgroup> red: array<f32, WG>;

fn reduce_sum(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = red[lid] + red[lid + s];
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn row_of(wid: vec3u, nwg: vec3u) -> u32 {
  return wid.y * nwg.x + wid.x;
}

fn serial_row(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

// dx for one element, given the row's rstd and mean(g xhat).
fn dx_at(i: u32, c: u32, rstd: f32, mean_gx: f32) -> f32 {
  let xhat = x[i] * rstd;
  var d = rstd * (dy[i] * weight[c] - xhat * mean_gx);
  if (p.add_residual != 0u) {
    d += dres[i];
  }
  return d;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  var q = 0.0;
  for (var j = lid; j < p.C; j += WG) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = inverseSqrt(reduce_sum(lid, q) / f32(p.C) + p.eps);
  for (var j = lid; j < p.C; j += WG) {
    y[base + j] = weight[j] * (x[base + j] * rstd);
  }
  if (lid == 0u) {
    rstd_out[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = row_of(wid, nwg);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let rstd = rstd_in[row];
  var acc = 0.0;
  for (var j = lid; j < p.C; j += WG) {
    acc += dy[base + j] * weight[j] * x[base + j];
  }
  let mean_gx = reduce_sum(lid, acc) * rstd / f32(p.C);
  for (var j = lid; j < p.C; j += WG) {
    dx[base + j] = dx_at(base + j, j, rstd, mean_gx);
  }
}

@compute @workgroup_size(WG)
fn params_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = serial_row(wid, nwg, lid);
  if (c >= p.C) {
    return;
  }
  var dw = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let i = r * p.C + c;
    dw += dy[i] * x[i] * rstd_in[r];
  }
  if (p.accumulate != 0u) {
    dw += dweight[c];
  }
  dweight[c] = dw;
}

@compute @workgroup_size(WG)
fn forward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = serial_row(wid, nwg, lid);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  var q = 0.0;
  for (var j = 0u; j < p.C; j++) {
    let v = x[base + j];
    q += v * v;
  }
  let rstd = inverseSqrt(q / f32(p.C) + p.eps);
  for (var j = 0u; j < p.C; j++) {
    y[base + j] = weight[j] * (x[base + j] * rstd);
  }
  rstd_out[row] = rstd;
}

@compute @workgroup_size(WG)
fn backward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = serial_row(wid, nwg, lid);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let rstd = rstd_in[row];
  var acc = 0.0;
  for (var j = 0u; j < p.C; j++) {
    acc += dy[base + j] * weight[j] * x[base + j];
  }
  let mean_gx = acc * rstd / f32(p.C);
  for (var j = 0u; j < p.C; j++) {
    dx[base + j] = dx_at(base + j, j, rstd, mean_gx);
  }
}
