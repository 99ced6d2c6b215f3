// Matmul, texture variant: A and B packed by matmul_pack.wgsl into rgba32float textures, one
// texel = 4 consecutive k values of a row of A, or 4 consecutive n values of a row of B.
// Each invocation computes TM rows x 8 columns of C in vec4 registers; per step of 4 k values it
// loads TM texels of A and 8 of B. No workgroup memory and no bounds checks in the inner loop
// (packing padded the edges with zeros). Texture loads are much cheaper than per-invocation
// storage loads on CPU drivers (SwiftShader); on real GPUs the other variants may win, which
// the per-adapter selection decides.
//   A texture: texel (k4, z a_rows_pad + m);   B texture: texel (n4, z b_rows_pad + k)
struct Params {
  M: u32,
  N: u32,
  K4: u32,
  a_zstride: u32,
  b_zstride: u32,
  accumulate: u32,
  // Triangular structure per batch (see ops/matmul.ts): 0 none, 1 op(A) zero for k > m,
  // 2 op(A) zero for k < m, 3 only C's n <= m is wanted.
  kmode: u32,
  // matmul_epilogue.wgsli flags
  epi: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var A: texture_2d<f32>;
@group(0) @binding(2) var B: texture_2d<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// #include "matmul_epilogue.wgsli"

override WX: u32 = 8;
override WY: u32 = 8;
override TM: u32 = 16;

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let n4 = g.x * 2u;
  let m0 = g.y * TM;
  let z = g.z;
  if (n4 * 4u >= p.N || m0 >= p.M || (p.kmode == 3u && n4 * 4u > m0 + TM - 1u)) {
    return;
  }
  let arow = z * p.a_zstride + m0;
  let brow = z * p.b_zstride;
  var acc: array<vec4f, 32>;
  for (var r = 0u; r < 2u * TM; r++) {
    acc[r] = vec4f(0.0);
  }
  // kmode 1 / 2: op(A) is zero past the tile's last row / before its first (per batch, M = K)
  var k4_begin = 0u;
  var k4_end = p.K4;
  if (p.kmode == 1u) {
    k4_end = min(p.K4, (m0 + TM + 3u) / 4u);
  } else if (p.kmode == 2u) {
    k4_begin = m0 / 4u;
  }
  for (var k4 = k4_begin; k4 < k4_end; k4++) {
    let kb = brow + 4u * k4;
    let b00 = textureLoad(B, vec2u(n4, kb), 0);
    let b01 = textureLoad(B, vec2u(n4 + 1u, kb), 0);
    let b10 = textureLoad(B, vec2u(n4, kb + 1u), 0);
    let b11 = textureLoad(B, vec2u(n4 + 1u, kb + 1u), 0);
    let b20 = textureLoad(B, vec2u(n4, kb + 2u), 0);
    let b21 = textureLoad(B, vec2u(n4 + 1u, kb + 2u), 0);
    let b30 = textureLoad(B, vec2u(n4, kb + 3u), 0);
    let b31 = textureLoad(B, vec2u(n4 + 1u, kb + 3u), 0);
    for (var r = 0u; r < TM; r++) {
      let av = textureLoad(A, vec2u(k4, arow + r), 0);
      acc[2u * r] += av.x * b00 + av.y * b10 + av.z * b20 + av.w * b30;
      acc[2u * r + 1u] += av.x * b01 + av.y * b11 + av.z * b21 + av.w * b31;
    }
  }
  for (var r = 0u; r < TM; r++) {
    let m = m0 + r;
    if (m < p.M) {
      for (var j = 0u; j < 8u; j++) {
        let n = n4 * 4u + j;
        if (n < p.N) {
          store_c((z * p.M + m) * p.N + n, n, acc[2u * r + j / 4u][j % 4u]);
        }
      }
    }
  }
}
