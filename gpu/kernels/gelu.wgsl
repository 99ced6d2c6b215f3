// GELU, tanh approximation (as in GPT-2):
//   y = 0.5 x (1 + tanh(s (x + 0.044715 x^3))),  s = sqrt(2/pi)
//   dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) s (1 + 3 * 0.044715 x^2),  t = tanh(...)
struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

override WG: u32 = 256;
const S: f32 = 0.7978845608028654;

// tanh through exp overflows for large |u| on some drivers; tanh(10) is 1 in f32 anyway.
fn tanh_safe(u: f32) -> f32 {
  let c = clamp(u, -10.0, 10.0);
  let e = exp(2.0 * c);
  return (e - 1.0) / (e + 1.0);
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < p.n) {
    let v = x[i];
    y[i] = 0.5 * v * (1.0 + tanh_safe(S * (v + 0.044715 * v * v * v)));
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + lid;
  if (i < p.n) {
    let v = x[i];
    let t = tanh_safe(S * (v + 0.044715 * v * v * v));
    let d = 0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * S * (1.0 + 3.0 * 0.044715 * v * v);
    dx[i] = dy[i] * d;
  }
}
