// Matmul, workgroup-tiled variant (the classic layout for real GPUs): a 16x16 workgroup computes
// a 64x64 block of C, each invocation a 4x4 sub-block at stride 16. Per step of 16 k values the
// workgroup stages a 64x16 slice of A and a 16x64 slice of B in workgroup memory (zero past the
// edges), so every global value is loaded once per workgroup instead of once per output.
// Same strided addressing and semantics as matmul_naive.wgsl; no subgroup operations, so any
// subgroup size works. Barriers are in uniform control flow: no invocation returns early.
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

const TS: u32 = 64u;
const TK: u32 = 16u;
// As[k][m] and Bs[k][n] for one step of TK values of k.
var<workgroup> As: array<f32, 1024>;
var<workgroup> Bs: array<f32, 1024>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let m_base = wid.y * TS;
  let n_base = wid.x * TS;
  let z = wid.z;
  // Let consecutive invocations read consecutive addresses whichever axis is contiguous.
  let a_k_fast = p.a_col == 1u;
  let b_k_fast = p.b_row == 1u;
  var acc: array<f32, 16>;
  for (var k0 = 0u; k0 < p.K; k0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let idx = li + 256u * i;
      let kk = select(idx / TS, idx % TK, a_k_fast);
      let mm = select(idx % TS, idx / TK, a_k_fast);
      let m = m_base + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) {
        v = a[z * p.a_batch + m * p.a_row + k * p.a_col];
      }
      As[kk * TS + mm] = v;
      let kb = select(idx / TS, idx % TK, b_k_fast);
      let nn = select(idx % TS, idx / TK, b_k_fast);
      let n = n_base + nn;
      let k2 = k0 + kb;
      var w = 0.0;
      if (n < p.N && k2 < p.K) {
        w = b[z * p.b_batch + k2 * p.b_row + n * p.b_col];
      }
      Bs[kb * TS + nn] = w;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a4 = vec4f(As[kk * TS + lid.y], As[kk * TS + lid.y + 16u], As[kk * TS + lid.y + 32u], As[kk * TS + lid.y + 48u]);
      let b4 = vec4f(Bs[kk * TS + lid.x], Bs[kk * TS + lid.x + 16u], Bs[kk * TS + lid.x + 32u], Bs[kk * TS + lid.x + 48u]);
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) {
          acc[i * 4u + j] += a4[i] * b4[j];
        }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m_base + lid.y + 16u * i;
    for (var j = 0u; j < 4u; j++) {
      let n = n_base + lid.x + 16u * j;
      if (m < p.M && n < p.N) {
        store_c((z * p.M + m) * p.N + n, n, acc[i * 4u + j]);
      }
    }
  }
}
