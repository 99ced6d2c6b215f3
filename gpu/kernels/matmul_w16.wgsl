// Products with a frozen 16-bit weight W [N, K] (Hugging Face Linear layout, f16 or bf16 packed
// two per u32; see half_unpack.wgsli). Arithmetic and accumulation are f32.
//   forward:  y[m, n] = alpha * sum_k x[m, k] W[n, k]  (+ y when accumulating) (+ bias[n]) (+ residual[m, n])
//   backward_input: dx[m, k] = alpha * sum_n dy[m, n] W[n, k]  (+ dx when accumulating)
//   unpack: y[i] = W[i] for i < M (the whole weight as f32, for the "unpack" variant: a transient
//           f32 copy fed to the adapter's fastest f32 matmul)
// Each invocation computes a 4x4 block in registers (as matmul_blocked). With K even every W row
// starts on a word, and pairs of elements are read as one word.
struct Params {
  M: u32,
  N: u32,
  K: u32,
  accumulate: u32,
  // bit 0 bias, bit 1 residual (forward only)
  epi: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

override WX: u32 = 8;
override WY: u32 = 8;
override HALF: u32 = 0;

// #include "half_unpack.wgsli"

fn w_at(i: u32) -> f32 {
  let word = w[i >> 1u];
  return half_bits_to_f32(select(word & 0xffffu, word >> 16u, (i & 1u) == 1u));
}

// forward: g.x -> n block, g.y -> m block
@compute @workgroup_size(WX, WY)
fn forward(@builtin(global_invocation_id) g: vec3u) {
  let n0 = g.x * 4u;
  let m0 = g.y * 4u;
  if (n0 >= p.N || m0 >= p.M) {
    return;
  }
  let K = p.K;
  var xr: array<u32, 4>;
  var wr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    xr[i] = min(m0 + i, p.M - 1u) * K;
    wr[i] = min(n0 + i, p.N - 1u) * K;
  }
  var acc: array<vec4f, 4>;
  if ((K & 1u) == 0u) {
    for (var k = 0u; k < K; k += 2u) {
      let w0 = half_pair(w[(wr[0] + k) >> 1u]);
      let w1 = half_pair(w[(wr[1] + k) >> 1u]);
      let w2 = half_pair(w[(wr[2] + k) >> 1u]);
      let w3 = half_pair(w[(wr[3] + k) >> 1u]);
      let wa = vec4f(w0.x, w1.x, w2.x, w3.x);
      let wb = vec4f(w0.y, w1.y, w2.y, w3.y);
      for (var i = 0u; i < 4u; i++) {
        acc[i] += x[xr[i] + k] * wa + x[xr[i] + k + 1u] * wb;
      }
    }
  } else {
    for (var k = 0u; k < K; k++) {
      let wv = vec4f(w_at(wr[0] + k), w_at(wr[1] + k), w_at(wr[2] + k), w_at(wr[3] + k));
      for (var i = 0u; i < 4u; i++) {
        acc[i] += x[xr[i] + k] * wv;
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let n = n0 + j;
        if (n < p.N) {
          let ci = m * p.N + n;
          var v = p.alpha * acc[i][j];
          if (p.accumulate != 0u) {
            v += y[ci];
          }
          if ((p.epi & 1u) != 0u) {
            v += bias[n];
          }
          if ((p.epi & 2u) != 0u) {
            v += residual[ci];
          }
          y[ci] = v;
        }
      }
    }
  }
}

// backward_input: x is dy [M, N], y is dx [M, K]; g.x -> k block, g.y -> m block
@compute @workgroup_size(WX, WY)
fn backward_input(@builtin(global_invocation_id) g: vec3u) {
  let k0 = g.x * 4u;
  let m0 = g.y * 4u;
  if (k0 >= p.K || m0 >= p.M) {
    return;
  }
  let K = p.K;
  var dr: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    dr[i] = min(m0 + i, p.M - 1u) * p.N;
  }
  let kl = K - 1u;
  var acc: array<vec4f, 4>;
  let paired = (K & 3u) == 0u;
  for (var n = 0u; n < p.N; n++) {
    let row = n * K;
    var wv: vec4f;
    if (paired) {
      let a = half_pair(w[(row + k0) >> 1u]);
      let b = half_pair(w[(row + k0 + 2u) >> 1u]);
      wv = vec4f(a.x, a.y, b.x, b.y);
    } else {
      wv = vec4f(w_at(row + k0), w_at(row + min(k0 + 1u, kl)), w_at(row + min(k0 + 2u, kl)), w_at(row + min(k0 + 3u, kl)));
    }
    for (var i = 0u; i < 4u; i++) {
      acc[i] += x[dr[i] + n] * wv;
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m < p.M) {
      for (var j = 0u; j < 4u; j++) {
        let k = k0 + j;
        if (k < K) {
          let ci = m * K + k;
          var v = p.alpha * acc[i][j];
          if (p.accumulate != 0u) {
            v += y[ci];
          }
          y[ci] = v;
        }
      }
    }
  }
}

@compute @workgroup_size(WX, WY)
fn unpack(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // two elements per invocation, over a 2-D grid folded like the elementwise kernels
  let pair = g.y * nwg.x * WX + g.x;
  let i = 2u * pair;
  if (i >= p.M) {
    return;
  }
  let v = half_pair(w[pair]);
  y[i] = v.x;
  if (i + 1u < p.M) {
    y[i + 1u] = v.y;
  }
}
