// Matmul, register-blocked variant: each invocation computes a 4x4 block of C in registers,
// reusing each loaded A and B value four times. No workgroup memory (barriers are costly on
// CPU drivers). Same strided addressing and semantics as matmul_naive.wgsl.
// Rows and columns past the edge are clamped for loads and skipped for stores, so any M, N, K work.
// kmode skips the k range where a triangular op(A) is zero, or blocks of C above its diagonal.
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
  // Triangular structure per batch (see ops/matmul.ts): 0 none, 1 op(A) zero for k > m,
  // 2 op(A) zero for k < m, 3 only C's n <= m is wanted.
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

override WX: u32 = 8;
override WY: u32 = 8;

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let n0 = g.x * 4u;
  let m0 = g.y * 4u;
  let z = g.z;
  if (n0 >= p.N || m0 >= p.M || (p.kmode == 3u && n0 > m0 + 3u)) {
    return;
  }
  let mL = p.M - 1u;
  let nL = p.N - 1u;
  let a0 = z * p.a_batch + min(m0, mL) * p.a_row;
  let a1 = z * p.a_batch + min(m0 + 1u, mL) * p.a_row;
  let a2 = z * p.a_batch + min(m0 + 2u, mL) * p.a_row;
  let a3 = z * p.a_batch + min(m0 + 3u, mL) * p.a_row;
  let b0 = z * p.b_batch + min(n0, nL) * p.b_col;
  let b1 = z * p.b_batch + min(n0 + 1u, nL) * p.b_col;
  let b2 = z * p.b_batch + min(n0 + 2u, nL) * p.b_col;
  let b3 = z * p.b_batch + min(n0 + 3u, nL) * p.b_col;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  var k_begin = 0u;
  var k_end = p.K;
  if (p.kmode == 1u) {
    k_end = min(p.K, m0 + 4u);
  } else if (p.kmode == 2u) {
    k_begin = m0;
  }
  for (var k = k_begin; k < k_end; k++) {
    let ka = k * p.a_col;
    let kb = k * p.b_row;
    let bv = vec4f(b[b0 + kb], b[b1 + kb], b[b2 + kb], b[b3 + kb]);
    c0 += a[a0 + ka] * bv;
    c1 += a[a1 + ka] * bv;
    c2 += a[a2 + ka] * bv;
    c3 += a[a3 + ka] * bv;
  }
  let rows = array<vec4f, 4>(c0, c1, c2, c3);
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + j;
        if (n < p.N) {
          store_c((z * p.M + m) * p.N + n, n, rows[i][j]);
        }
      }
    }
  }
}
