// CPU reference matmul in float64: C[z] = alpha op(A[z]) op(B[z]); a batch of 1 broadcasts.

export interface RefMatmulDims {
  batchA: number;
  batchB: number;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
}

export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, d: RefMatmulDims): Float64Array {
  const { M, N, K } = d;
  const batch = Math.max(d.batchA, d.batchB);
  const c = new Float64Array(batch * M * N);
  const alpha = d.alpha ?? 1;
  for (let z = 0; z < batch; z++) {
    const ao = d.batchA > 1 ? z * M * K : 0;
    const bo = d.batchB > 1 ? z * K * N : 0;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = a[ao + (d.transA ? k * M + m : m * K + k)];
          const bv = b[bo + (d.transB ? n * K + k : k * N + n)];
          s += av * bv;
        }
        c[(z * M + m) * N + n] = alpha * s;
      }
    }
  }
  return c;
}
