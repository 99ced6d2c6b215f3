// Matmul, reference GPU variant: one invocation per output element.
//   C[z, m, n] = alpha * sum_k A(z, m, k) B(z, k, n)   (+ C[z, m, n] when accumulate)
// A and B are addressed through element strides, so transposes and broadcast batches
// (batch stride 0) need no copies:
//   A(z, m, k) = a[z a_batch + m a_row + k a_col],  B(z, k, n) = b[z b_batch + k b_row + n b_col]
struct Params {
  M: u32,
  N: u32,
  K: u32,
  a_batch: u32,
  a_row: u32,
  a_col: u32,
  b_batch: u32,
  b_row: u32,
  b_col: u32,
  accumulate: u32,
  // triangular hint of ops/matmul.ts; this variant computes everything
  kmode: u32,
  // matmul_epilogue.wgsli flags
  epi: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// #include "matmul_epilogue.wgsli"

override WX: u32 = 16;
override WY: u32 = 16;

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let n = g.x;
  let m = g.y;
  let z = g.z;
  if (n >= p.N || m >= p.M) {
    return;
  }
  let ab = z * p.a_batch + m * p.a_row;
  let bb = z * p.b_batch + n * p.b_col;
  var acc = 0.0;
  for (var k = 0u; k < p.K; k++) {
    acc += a[ab + k * p.a_col] * b[bb + k * p.b_row];
  }
  store_c((z * p.M + m) * p.N + n, n, acc);
}
