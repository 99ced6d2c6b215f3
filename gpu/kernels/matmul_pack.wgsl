// Packs a strided (possibly transposed, batched) matrix X(z, r, c) into an rgba32float texture
// for matmul_texture.wgsl: texel (c4, z rows_pad + r) = X(z, r, 4 c4 .. 4 c4 + 3), zero past
// the matrix edges, so the matmul kernel needs no bounds checks on loads.
//   X(z, r, c) = src[z s_batch + r s_row + c s_col]
//   main:       any strides and sizes, one texel per invocation, scalar loads
//   rows4:      s_col = 1 and cols, s_row, s_batch multiples of 4: one vec4 load per texel, 4 texels
//               of a row per invocation
//   cols4:      s_row = 1 (a transposed operand) and rows, s_col, s_batch multiples of 4: each
//               invocation loads 4 vec4 down 4 columns and stores the 4x4 block as 4 texels
// Storage loads with per-invocation addresses are costly on CPU drivers; vec4 loads cut their
// number by 4.
struct Params {
  rows: u32,
  cols: u32,
  rows_pad: u32,
  batch: u32,
  width: u32,
  height: u32,
  s_batch: u32,
  s_row: u32,
  s_col: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var dst: texture_storage_2d<rgba32float, write>;
@group(0) @binding(3) var<storage, read> src4: array<vec4f>;

override WX: u32 = 8;
override WY: u32 = 8;

@compute @workgroup_size(WX, WY)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let x = g.x;
  let y = g.y;
  if (x >= p.width || y >= p.height) {
    return;
  }
  let z = y / p.rows_pad;
  let r = y % p.rows_pad;
  var v = vec4f(0.0);
  if (r < p.rows && z < p.batch) {
    let base = z * p.s_batch + r * p.s_row;
    for (var j = 0u; j < 4u; j++) {
      let c = 4u * x + j;
      if (c < p.cols) {
        v[j] = src[base + c * p.s_col];
      }
    }
  }
  textureStore(dst, vec2u(x, y), v);
}

// Invocation (x4, y) writes texels (4 x4 .. 4 x4 + 3, y): fewer, longer invocations are cheaper.
@compute @workgroup_size(WX, WY)
fn rows4(@builtin(global_invocation_id) g: vec3u) {
  let x0 = g.x * 4u;
  let y = g.y;
  if (x0 >= p.width || y >= p.height) {
    return;
  }
  let z = y / p.rows_pad;
  let r = y % p.rows_pad;
  let live = r < p.rows && z < p.batch;
  let base = (z * p.s_batch + r * p.s_row) / 4u;
  for (var i = 0u; i < 4u; i++) {
    let x = x0 + i;
    if (x < p.width) {
      var v = vec4f(0.0);
      if (live && 4u * x < p.cols) {
        v = src4[base + x];
      }
      textureStore(dst, vec2u(x, y), v);
    }
  }
}

// Invocation (x, y4) writes texels (x, 4 y4 .. 4 y4 + 3); rows_pad is a multiple of 4, so the
// four rows share z.
@compute @workgroup_size(WX, WY)
fn cols4(@builtin(global_invocation_id) g: vec3u) {
  let x = g.x;
  let y0 = g.y * 4u;
  if (x >= p.width || y0 >= p.height) {
    return;
  }
  let z = y0 / p.rows_pad;
  let r = y0 % p.rows_pad;
  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  if (r < p.rows && z < p.batch) {
    // column c of X at rows r .. r + 3 is contiguous: src[z s_batch + c s_col + r ..]
    let base = (z * p.s_batch + r) / 4u;
    let col = 4u * x;
    let stride = p.s_col / 4u;
    if (col < p.cols) {
      c0 = src4[base + col * stride];
    }
    if (col + 1u < p.cols) {
      c1 = src4[base + (col + 1u) * stride];
    }
    if (col + 2u < p.cols) {
      c2 = src4[base + (col + 2u) * stride];
    }
    if (col + 3u < p.cols) {
      c3 = src4[base + (col + 3u) * stride];
    }
  }
  // row r + i of X holds (c0[i], c1[i], c2[i], c3[i]) in columns 4x .. 4x + 3
  textureStore(dst, vec2u(x, y0), vec4f(c0.x, c1.x, c2.x, c3.x));
  textureStore(dst, vec2u(x, y0 + 1u), vec4f(c0.y, c1.y, c2.y, c3.y));
  textureStore(dst, vec2u(x, y0 + 2u), vec4f(c0.z, c1.z, c2.z, c3.z));
  textureStore(dst, vec2u(x, y0 + 3u), vec4f(c0.w, c1.w, c2.w, c3.w));
}
