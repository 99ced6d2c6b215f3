// Reductions.
//   sum_rows: out[r] (+)= sum_j x[r, j]              one workgroup per row (sum_rows_serial: one
//             invocation per row, picked by measurement like the other row kernels)
//   sum_cols: out[c] (+)= sum_r x[r, c]              one invocation per column (bias gradients)
//   partial:  partials[offset + i] = sum over invocation i's strided share of x (or of x^2)
//   finalize: out[0] = scale * sum(partials) (mode 0), or the global norm
//             out[0] = sqrt(sum), out[1] = min(1, max_norm / (norm + 1e-6)) (mode 1)
// Every reduction has a fixed order (serial loops, trees in workgroup memory): deterministic and
// independent of the subgroup size.
struct Params {
  rows: u32,
  cols: u32,
  accumulate: u32,
  offset: u32,
  square: u32,
  mode: u32,
  scale: f32,
  max_norm: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read_write> partials: array<f32>;
@group(0) @binding(4) var<storage, read> partials_in: array<f32>;

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

@compute @workgroup_size(WG)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  var s = 0.0;
  for (var j = lid; j < p.cols; j += WG) {
    s += x[row * p.cols + j];
  }
  s = reduce_sum(lid, s);
  if (lid == 0u) {
    if (p.accumulate != 0u) {
      s += out[row];
    }
    out[row] = s;
  }
}

@compute @workgroup_size(WG)
fn sum_cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid;
  if (c >= p.cols) {
    return;
  }
  var s = 0.0;
  for (var r = 0u; r < p.rows; r++) {
    s += x[r * p.cols + c];
  }
  if (p.accumulate != 0u) {
    s += out[c];
  }
  out[c] = s;
}

// x has p.cols elements; p.rows = invocations launched for it. Invocation i sums elements
// i, i + rows, ... (or their squares) into partials[offset + i]: no barriers, fixed order.
@compute @workgroup_size(WG)
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i >= p.rows) {
    return;
  }
  var s = 0.0;
  for (var j = i; j < p.cols; j += p.rows) {
    let v = x[j];
    s += select(v, v * v, p.square != 0u);
  }
  partials[p.offset + i] = s;
}

// p.cols = number of partials; one workgroup.
@compute @workgroup_size(WG)
fn finalize(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < p.cols; i += WG) {
    s += partials_in[i];
  }
  s = reduce_sum(lid, s);
  if (lid == 0u) {
    if (p.mode == 0u) {
      out[0] = p.scale * s;
    } else {
      let norm = sqrt(s);
      out[0] = norm;
      out[1] = min(1.0, p.max_norm / (norm + 1e-6));
    }
  }
}

@compute @workgroup_size(WG)
fn sum_rows_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) {
    return;
  }
  var s = 0.0;
  for (var j = 0u; j < p.cols; j++) {
    s += x[row * p.cols + j];
  }
  if (p.accumulate != 0u) {
    s += out[row];
  }
  out[row] = s;
}
