// Row softmax over the last axis, with an optional scale and causal mask (for attention scores):
//   y[r, j] = exp(s x[r, j] - max) / sum_k exp(s x[r, k] - max)   for lo <= j < hi, else 0
// where, when causal, row r is a query at position pos = offset + r mod T (offset = cols - T: the
// queries are the last T of cols positions, as when decoding with a KV cache), hi = pos + 1 and
// lo = max(0, pos + 1 - window) (window 0: no window); not causal: lo = 0, hi = cols.
// backward: dx[r, j] = s y[r, j] (dy[r, j] - sum_k dy[r, k] y[r, k]); causal: dx = 0 and dy unread
//           outside lo <= j < hi (where y = 0)
// Two layouts, picked per adapter by measurement: forward/backward give each row a workgroup
// (WG a power of two, tree reductions in workgroup memory, any subgroup size works);
// *_serial give each row one invocation and no barriers (better where barriers are costly, e.g.
// CPU drivers, and rows are many).
struct Params {
  rows: u32,
  cols: u32,
  T: u32,
  causal: u32,
  offset: u32,
  window: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> yb: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

override WG: u32 = 64;
var<workgroup> red: array<f32, WG>;

fn reduce_max(lid: u32, v: f32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = max(red[lid], red[lid + s]);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

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

// The columns [lo, hi) row `row` may attend to.
fn row_range(row: u32) -> vec2u {
  if (p.causal == 0u) {
    return vec2u(0u, p.cols);
  }
  let hi = min(p.cols, p.offset + row % p.T + 1u);
  var lo = 0u;
  if (p.window != 0u && hi > p.window) {
    lo = hi - p.window;
  }
  return vec2u(lo, hi);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  let range = row_range(row);
  var mx = -3.0e38;
  for (var j = range.x + lid; j < range.y; j += WG) {
    mx = max(mx, p.scale * x[base + j]);
  }
  mx = reduce_max(lid, mx);
  var sum = 0.0;
  for (var j = range.x + lid; j < range.y; j += WG) {
    sum += exp(p.scale * x[base + j] - mx);
  }
  sum = reduce_sum(lid, sum);
  let inv = 1.0 / sum;
  for (var j = lid; j < p.cols; j += WG) {
    var v = 0.0;
    if (j >= range.x && j < range.y) {
      v = exp(p.scale * x[base + j] - mx) * inv;
    }
    y[base + j] = v;
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  // causal: masked entries have y = 0, so dx = 0 there; dy is not read (it may be undefined)
  let range = row_range(row);
  var dot = 0.0;
  for (var j = range.x + lid; j < range.y; j += WG) {
    dot += dy[base + j] * yb[base + j];
  }
  dot = reduce_sum(lid, dot);
  for (var j = lid; j < p.cols; j += WG) {
    var v = 0.0;
    if (j >= range.x && j < range.y) {
      v = p.scale * yb[base + j] * (dy[base + j] - dot);
    }
    dx[base + j] = v;
  }
}

@compute @workgroup_size(WG)
fn forward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  let range = row_range(row);
  // Online max and sum: one pass over the row.
  var mx = -3.0e38;
  var sum = 0.0;
  for (var j = range.x; j < range.y; j++) {
    let v = p.scale * x[base + j];
    if (v > mx) {
      sum = sum * exp(mx - v) + 1.0;
      mx = v;
    } else {
      sum += exp(v - mx);
    }
  }
  let inv = 1.0 / sum;
  for (var j = 0u; j < p.cols; j++) {
    var v = 0.0;
    if (j >= range.x && j < range.y) {
      v = exp(p.scale * x[base + j] - mx) * inv;
    }
    y[base + j] = v;
  }
}

@compute @workgroup_size(WG)
fn backward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG + lid;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.cols;
  let range = row_range(row);
  var dot = 0.0;
  for (var j = range.x; j < range.y; j++) {
    dot += dy[base + j] * yb[base + j];
  }
  for (var j = 0u; j < p.cols; j++) {
    var v = 0.0;
    if (j >= range.x && j < range.y) {
      v = p.scale * yb[base + j] * (dy[base + j] - dot);
    }
    dx[base + j] = v;
  }
}
