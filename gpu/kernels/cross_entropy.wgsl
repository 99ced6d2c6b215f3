// Cross-entropy from logits, fused with the softmax. forward/fused/backward give each row of V
// logits a workgroup; *_serial give each row one invocation (no barriers), picked by measurement:
//   loss[r]      = logsumexp(logits[r]) - logits[r, target[r]]          (0 when target < 0: ignored)
//   dlogits[r,j] = (softmax(logits[r])_j - [j == target[r]]) * g[r]
// where g[r] is the constant `scale` (fused, training) or dloss[r] (backward from any upstream).
// A target >= V gives a NaN loss so a bad token id cannot go unnoticed.
struct Params {
  rows: u32,
  V: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<i32>;
@group(0) @binding(3) var<storage, read_write> losses: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<storage, read> dloss: array<f32>;

override WG: u32 = 64;
var<workgroup> red: array<f32, WG>;

fn reduce(lid: u32, v: f32, is_max: bool) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      red[lid] = select(red[lid] + red[lid + s], max(red[lid], red[lid + s]), is_max);
    }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

// Returns (max, sum of exp(logit - max)) for one row.
fn row_stats(lid: u32, base: u32) -> vec2f {
  var mx = -3.0e38;
  for (var j = lid; j < p.V; j += WG) {
    mx = max(mx, logits[base + j]);
  }
  mx = reduce(lid, mx, true);
  var s = 0.0;
  for (var j = lid; j < p.V; j += WG) {
    s += exp(logits[base + j] - mx);
  }
  return vec2f(mx, reduce(lid, s, false));
}

fn row_loss(base: u32, t: i32, st: vec2f) -> f32 {
  if (t < 0) {
    return 0.0;
  }
  if (u32(t) >= p.V) {
    let nan_bits = 0x7fc00000u;
    return bitcast<f32>(nan_bits);
  }
  return log(st.y) + st.x - logits[base + u32(t)];
}

fn write_grad(lid: u32, base: u32, t: i32, st: vec2f, g: f32) {
  let inv = 1.0 / st.y;
  for (var j = lid; j < p.V; j += WG) {
    var d = exp(logits[base + j] - st.x) * inv;
    if (i32(j) == t) {
      d -= 1.0;
    }
    dlogits[base + j] = select(d * g, 0.0, t < 0);
  }
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  let st = row_stats(lid, base);
  if (lid == 0u) {
    losses[row] = row_loss(base, targets[row], st);
  }
}

@compute @workgroup_size(WG)
fn fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  let st = row_stats(lid, base);
  let t = targets[row];
  if (lid == 0u) {
    losses[row] = row_loss(base, t, st);
  }
  write_grad(lid, base, t, st, p.scale);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  let st = row_stats(lid, base);
  write_grad(lid, base, targets[row], st, dloss[row]);
}

// Online max and sum of exp over one row, by a single invocation.
fn row_stats_serial(base: u32) -> vec2f {
  var mx = -3.0e38;
  var s = 0.0;
  for (var j = 0u; j < p.V; j++) {
    let v = logits[base + j];
    if (v > mx) {
      s = s * exp(mx - v) + 1.0;
      mx = v;
    } else {
      s += exp(v - mx);
    }
  }
  return vec2f(mx, s);
}

fn serial_row(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = serial_row(wid, nwg, lid);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  losses[row] = row_loss(base, targets[row], row_stats_serial(base));
}

@compute @workgroup_size(WG)
fn fused_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = serial_row(wid, nwg, lid);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  let st = row_stats_serial(base);
  let t = targets[row];
  losses[row] = row_loss(base, t, st);
  write_grad_serial(base, t, st, p.scale);
}

@compute @workgroup_size(WG)
fn backward_serial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = serial_row(wid, nwg, lid);
  if (row >= p.rows) {
    return;
  }
  let base = row * p.V;
  write_grad_serial(base, targets[row], row_stats_serial(base), dloss[row]);
}

fn write_grad_serial(base: u32, t: i32, st: vec2f, g: f32) {
  let inv = 1.0 / st.y;
  for (var j = 0u; j < p.V; j++) {
    var d = exp(logits[base + j] - st.x) * inv;
    if (i32(j) == t) {
      d -= 1.0;
    }
    dlogits[base + j] = select(d * g, 0.0, t < 0);
  }
}
