// Packs a strided (possibly transposed, batched) matrix X(z, r, c) into an rgba32float texture
// for matmul_texture.wgsl: texel (c4, z rows_pad + r) = X(z, r, 4 c4 .. 4 c4 + 3), zero past
// the matrix edges, so the matmul kernel needs no bounds checks on loads.
//   X(z, r, c) = src[z s_batch + r s_row + c s_col]
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
