// LayerNorm over the last axis (C channels): forward/backward give each row a workgroup,
// *_serial give each row one invocation (no barriers); the engine measures which is faster.
//   forward:  mean, rstd = 1/sqrt(var + eps); y = (x - mean) rstd gamma + beta; saves mean and rstd
//   backward: xhat = (x - mean) rstd, g = dy gamma
//             dx = rstd (g - mean(g) - xhat mean(g xhat))  (+ dres when add_residual: the gradient
//             arriving through a residual connection around the LayerNorm's block, summed in)
//   params_backward: dgamma[c] (+)= sum_r dy xhat, dbeta[c] (+)= sum_r dy (one invocation per
//             channel, rows summed in order: deterministic, no atomics)
struct Params {
  rows: u32,
  C: u32,
  accumulate: u32,
  add_residual: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;
@group(0) @binding(5) var<storage, read_write> mean_out: array<f32>;
@group(0) @binding(6) var<storage, read_write> rstd_out: array<f32>;
@group(0) @binding(7) var<storage, read> dy: array<f32>;
@group(0) @binding(8) var<storage, read_write> dx: array<f32>;
@group(0) @binding(9) var<storage, read> mean_in: array<f32>;
@group(0) @binding(10) var<storage, read> rstd_in: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbeta: array<f32>;
@group(0) @binding(13) var<storage, read> dres: array<f32>;

override WG: u32 = 64;
var<workgroup> red: array<vec2f, WG>;

fn reduce2(lid: u32, v: vec2f) -> vec2f {
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

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let n = f32(p.C);
  var s = 0.0;
  for (var j = lid; j < p.C; j += WG) {
    s += x[base + j];
  }
  let mean = reduce2(lid, vec2f(s, 0.0)).x / n;
  var q = 0.0;
  for (var j = lid; j < p.C; j += WG) {
    let d = x[base + j] - mean;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(reduce2(lid, vec2f(q, 0.0)).x / n + p.eps);
  for (var j = lid; j < p.C; j += WG) {
    y[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j];
  }
  if (lid == 0u) {
    mean_out[row] = mean;
    rstd_out[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let mean = mean_in[row];
  let rstd = rstd_in[row];
  var acc = vec2f(0.0);
  for (var j = lid; j < p.C; j += WG) {
    let xhat = (x[base + j] - mean) * rstd;
    let g = dy[base + j] * gamma[j];
    acc += vec2f(g, g * xhat);
  }
  let sums = reduce2(lid, acc) / f32(p.C);
  for (var j = lid; j < p.C; j += WG) {
    let xhat = (x[base + j] - mean) * rstd;
    let g = dy[base + j] * gamma[j];
    var d = rstd * (g - sums.x - xhat * sums.y);
    if (p.add_residual != 0u) {
      d += dres[base + j];
    }
    dx[base + j] = d;
  }
}

@compute @workgroup_size(WG)
fn params_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid;
  if (c >= p.C) {
    return;
  }
  var dg = 0.0;
  var db = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    let i = r * p.C + c;
    let xhat = (x[i] - mean_in[r]) * rstd_in[r];
    dg += dy[i] * xhat;
    db += dy[i];
  }
  if (p.accumulate != 0u) {
    dg += dgamma[c];
    db += dbeta[c];
  }
  dgamma[c] = dg;
  dbeta[c] = db;
}

@compute @workgroup_size(WG)
fn forward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let n = f32(p.C);
  var s = 0.0;
  for (var j = 0u; j < p.C; j++) {
    s += x[base + j];
  }
  let mean = s / n;
  var q = 0.0;
  for (var j = 0u; j < p.C; j++) {
    let d = x[base + j] - mean;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(q / n + p.eps);
  for (var j = 0u; j < p.C; j++) {
    y[base + j] = (x[base + j] - mean) * rstd * gamma[j] + beta[j];
  }
  mean_out[row] = mean;
  rstd_out[row] = rstd;
}

@compute @workgroup_size(WG)
fn backward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.C;
  let mean = mean_in[row];
  let rstd = rstd_in[row];
  var sums = vec2f(0.0);
  for (var j = 0u; j < p.C; j++) {
    let xhat = (x[base + j] - mean) * rstd;
    let g = dy[base + j] * gamma[j];
    sums += vec2f(g, g * xhat);
  }
  sums = sums / f32(p.C);
  for (var j = 0u; j < p.C; j++) {
    let xhat = (x[base + j] - mean) * rstd;
    let g = dy[base + j] * gamma[j];
    var d = rstd * (g - sums.x - xhat * sums.y);
    if (p.add_residual != 0u) {
      d += dres[base + j];
    }
    dx[base + j] = d;
  }
}
