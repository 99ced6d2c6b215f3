// Matmul, texture + subgroup variant for adapters whose subgroups are exactly 4 wide (SwiftShader).
// Same packing and 16x8 register tile as matmul_texture.wgsl; in addition the 4 lanes of a
// subgroup, which compute the same 16 rows of C, each load 4 of the 16 A texels per k step and
// share them with subgroupBroadcast (cheaper than a texture load on CPU drivers).
// Correct for any subgroup size and any lane layout: each subgroup checks at run time that it is
// 4 wide and that all its lanes work on the same rows, and otherwise every lane loads its own A
// texels. The engine only offers this variant when the adapter reports subgroups of size 4.
// B texels of a k step form two mat4x4 (columns = 4 consecutive k rows), so one step is
// acc += B * a, a matrix-vector product per output row.
diagnostic(off, subgroup_uniformity);

struct Params {
  M: u32,
  N: u32,
  K4: u32,
  a_zstride: u32,
  b_zstride: u32,
  accumulate: u32,
  a_rows_max: u32,
  b_width: u32,
  // Nonzero forces the per-lane path (tests exercise the fallback on 4-wide adapters too).
  own_loads: u32,
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
const TM: u32 = 16u;

// One step of 4 k values with A texels shared across the subgroup's 4 lanes:
// lane l holds rows l, l + 4, l + 8, l + 12 of the tile in a0..a3.
fn step_shared(acc: ptr<function, array<vec4f, 32>>, k4: u32, kb: u32, n4: u32, arow: u32, lane: u32) {
  let B0 = mat4x4f(textureLoad(B, vec2u(n4, kb), 0), textureLoad(B, vec2u(n4, kb + 1u), 0), textureLoad(B, vec2u(n4, kb + 2u), 0), textureLoad(B, vec2u(n4, kb + 3u), 0));
  let B1 = mat4x4f(textureLoad(B, vec2u(n4 + 1u, kb), 0), textureLoad(B, vec2u(n4 + 1u, kb + 1u), 0), textureLoad(B, vec2u(n4 + 1u, kb + 2u), 0), textureLoad(B, vec2u(n4 + 1u, kb + 3u), 0));
  let a0 = textureLoad(A, vec2u(k4, arow + lane), 0);
  let a1 = textureLoad(A, vec2u(k4, arow + lane + 4u), 0);
  let a2 = textureLoad(A, vec2u(k4, arow + lane + 8u), 0);
  let a3 = textureLoad(A, vec2u(k4, arow + lane + 12u), 0);
  let x0 = subgroupBroadcast(a0, 0u);
  (*acc)[0] += B0 * x0;
  (*acc)[1] += B1 * x0;
  let x1 = subgroupBroadcast(a0, 1u);
  (*acc)[2] += B0 * x1;
  (*acc)[3] += B1 * x1;
  let x2 = subgroupBroadcast(a0, 2u);
  (*acc)[4] += B0 * x2;
  (*acc)[5] += B1 * x2;
  let x3 = subgroupBroadcast(a0, 3u);
  (*acc)[6] += B0 * x3;
  (*acc)[7] += B1 * x3;
  let x4 = subgroupBroadcast(a1, 0u);
  (*acc)[8] += B0 * x4;
  (*acc)[9] += B1 * x4;
  let x5 = subgroupBroadcast(a1, 1u);
  (*acc)[10] += B0 * x5;
  (*acc)[11] += B1 * x5;
  let x6 = subgroupBroadcast(a1, 2u);
  (*acc)[12] += B0 * x6;
  (*acc)[13] += B1 * x6;
  let x7 = subgroupBroadcast(a1, 3u);
  (*acc)[14] += B0 * x7;
  (*acc)[15] += B1 * x7;
  let x8 = subgroupBroadcast(a2, 0u);
  (*acc)[16] += B0 * x8;
  (*acc)[17] += B1 * x8;
  let x9 = subgroupBroadcast(a2, 1u);
  (*acc)[18] += B0 * x9;
  (*acc)[19] += B1 * x9;
  let x10 = subgroupBroadcast(a2, 2u);
  (*acc)[20] += B0 * x10;
  (*acc)[21] += B1 * x10;
  let x11 = subgroupBroadcast(a2, 3u);
  (*acc)[22] += B0 * x11;
  (*acc)[23] += B1 * x11;
  let x12 = subgroupBroadcast(a3, 0u);
  (*acc)[24] += B0 * x12;
  (*acc)[25] += B1 * x12;
  let x13 = subgroupBroadcast(a3, 1u);
  (*acc)[26] += B0 * x13;
  (*acc)[27] += B1 * x13;
  let x14 = subgroupBroadcast(a3, 2u);
  (*acc)[28] += B0 * x14;
  (*acc)[29] += B1 * x14;
  let x15 = subgroupBroadcast(a3, 3u);
  (*acc)[30] += B0 * x15;
  (*acc)[31] += B1 * x15;
}

// The same step with every lane loading its own 16 A texels (fallback path).
fn step_own(acc: ptr<function, array<vec4f, 32>>, k4: u32, kb: u32, n4: u32, arow: u32) {
  let B0 = mat4x4f(textureLoad(B, vec2u(n4, kb), 0), textureLoad(B, vec2u(n4, kb + 1u), 0), textureLoad(B, vec2u(n4, kb + 2u), 0), textureLoad(B, vec2u(n4, kb + 3u), 0));
  let B1 = mat4x4f(textureLoad(B, vec2u(n4 + 1u, kb), 0), textureLoad(B, vec2u(n4 + 1u, kb + 1u), 0), textureLoad(B, vec2u(n4 + 1u, kb + 2u), 0), textureLoad(B, vec2u(n4 + 1u, kb + 3u), 0));
  let y0 = textureLoad(A, vec2u(k4, arow + 0u), 0);
  (*acc)[0] += B0 * y0;
  (*acc)[1] += B1 * y0;
  let y1 = textureLoad(A, vec2u(k4, arow + 1u), 0);
  (*acc)[2] += B0 * y1;
  (*acc)[3] += B1 * y1;
  let y2 = textureLoad(A, vec2u(k4, arow + 2u), 0);
  (*acc)[4] += B0 * y2;
  (*acc)[5] += B1 * y2;
  let y3 = textureLoad(A, vec2u(k4, arow + 3u), 0);
  (*acc)[6] += B0 * y3;
  (*acc)[7] += B1 * y3;
  let y4 = textureLoad(A, vec2u(k4, arow + 4u), 0);
  (*acc)[8] += B0 * y4;
  (*acc)[9] += B1 * y4;
  let y5 = textureLoad(A, vec2u(k4, arow + 5u), 0);
  (*acc)[10] += B0 * y5;
  (*acc)[11] += B1 * y5;
  let y6 = textureLoad(A, vec2u(k4, arow + 6u), 0);
  (*acc)[12] += B0 * y6;
  (*acc)[13] += B1 * y6;
  let y7 = textureLoad(A, vec2u(k4, arow + 7u), 0);
  (*acc)[14] += B0 * y7;
  (*acc)[15] += B1 * y7;
  let y8 = textureLoad(A, vec2u(k4, arow + 8u), 0);
  (*acc)[16] += B0 * y8;
  (*acc)[17] += B1 * y8;
  let y9 = textureLoad(A, vec2u(k4, arow + 9u), 0);
  (*acc)[18] += B0 * y9;
  (*acc)[19] += B1 * y9;
  let y10 = textureLoad(A, vec2u(k4, arow + 10u), 0);
  (*acc)[20] += B0 * y10;
  (*acc)[21] += B1 * y10;
  let y11 = textureLoad(A, vec2u(k4, arow + 11u), 0);
  (*acc)[22] += B0 * y11;
  (*acc)[23] += B1 * y11;
  let y12 = textureLoad(A, vec2u(k4, arow + 12u), 0);
  (*acc)[24] += B0 * y12;
  (*acc)[25] += B1 * y12;
  let y13 = textureLoad(A, vec2u(k4, arow + 13u), 0);
  (*acc)[26] += B0 * y13;
  (*acc)[27] += B1 * y13;
  let y14 = textureLoad(A, vec2u(k4, arow + 14u), 0);
  (*acc)[28] += B0 * y14;
  (*acc)[29] += B1 * y14;
  let y15 = textureLoad(A, vec2u(k4, arow + 15u), 0);
  (*acc)[30] += B0 * y15;
  (*acc)[31] += B1 * y15;
}

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(subgroup_invocation_id) lane: u32, @builtin(subgroup_size) sg_size: u32) {
  // No early return: lanes past the edge still load (clamped) and share texels for their neighbours.
  let n4 = min(g.x * 2u, p.b_width - 2u);
  let m0 = g.y * TM;
  let z = g.z;
  let arow = z * p.a_zstride + min(m0, p.a_rows_max);
  let brow = z * p.b_zstride;
  var acc: array<vec4f, 32>;
  for (var r = 0u; r < 32u; r++) {
    acc[r] = vec4f(0.0);
  }
  let share_a = p.own_loads == 0u && sg_size == 4u && subgroupAdd(1u) == 4u && subgroupAll(arow == subgroupBroadcast(arow, 0u));
  // kmode 3: blocks above C's diagonal are skipped, by whole subgroups (their lanes share loads).
  if (p.kmode == 3u && subgroupAll(g.x * 8u > m0 + TM - 1u)) {
    return;
  }
  // kmode 1 / 2: op(A) is zero past the tile's last row / before its first (per batch, M = K).
  // m0 is a multiple of 16, so the range stays in whole blocks of 4 texels.
  var k4_begin = 0u;
  var k4_end = p.K4;
  if (p.kmode == 1u) {
    k4_end = min(p.K4, (m0 + TM) / 4u);
  } else if (p.kmode == 2u) {
    k4_begin = min(p.K4, m0 / 4u);
  }
  // K4 is padded to a multiple of 4 texels (16 k values): the block below is fully unrolled.
  if (share_a) {
    for (var k4 = k4_begin; k4 < k4_end; k4 += 4u) {
      step_shared(&acc, k4, brow + 4u * k4, n4, arow, lane);
      step_shared(&acc, k4 + 1u, brow + 4u * k4 + 4u, n4, arow, lane);
      step_shared(&acc, k4 + 2u, brow + 4u * k4 + 8u, n4, arow, lane);
      step_shared(&acc, k4 + 3u, brow + 4u * k4 + 12u, n4, arow, lane);
    }
  } else {
    for (var k4 = k4_begin; k4 < k4_end; k4 += 4u) {
      step_own(&acc, k4, brow + 4u * k4, n4, arow);
      step_own(&acc, k4 + 1u, brow + 4u * k4 + 4u, n4, arow);
      step_own(&acc, k4 + 2u, brow + 4u * k4 + 8u, n4, arow);
      step_own(&acc, k4 + 3u, brow + 4u * k4 + 12u, n4, arow);
    }
  }
  let n0 = g.x * 8u;
  if (n0 >= p.N || m0 >= p.M) {
    return;
  }
  for (var r = 0u; r < TM; r++) {
    let m = m0 + r;
    if (m < p.M) {
      for (var j = 0u; j < 8u; j++) {
        let n = n0 + j;
        if (n < p.N) {
          store_c((z * p.M + m) * p.N + n, n, acc[2u * r + j / 4u][j % 4u]);
        }
      }
    }
  }
}
