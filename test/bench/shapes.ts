// Matmul shapes benchmarked everywhere: square sizes and the layers of a small GPT
// (batch 8 x context 128 = 1024 rows, width 128, MLP 512, vocabulary 512).

export interface MatmulShape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
}

export const MATMUL_SHAPES: MatmulShape[] = [
  { name: "square 256", M: 256, N: 256, K: 256 },
  { name: "square 512", M: 512, N: 512, K: 512 },
  { name: "square 1024", M: 1024, N: 1024, K: 1024 },
  { name: "gpt qkv 1024x128->384", M: 1024, N: 384, K: 128 },
  { name: "gpt mlp up 1024x128->512", M: 1024, N: 512, K: 128 },
  { name: "gpt mlp down 1024x512->128", M: 1024, N: 128, K: 512 },
  { name: "gpt lm head 1024x128->512 (W^T)", M: 1024, N: 512, K: 128, transB: true },
  { name: "gpt weight grad x^T dy 128x1024->512", M: 128, N: 512, K: 1024, transA: true },
];

export const flops = (s: MatmulShape) => 2 * s.M * s.N * s.K;

export interface AttentionShape {
  name: string;
  B: number;
  T: number;
  C: number;
  H: number;
}

export const ATTENTION_SHAPES: AttentionShape[] = [
  { name: "B8 T64 C64 H4", B: 8, T: 64, C: 64, H: 4 },
  { name: "B8 T128 C128 H4", B: 8, T: 128, C: 128, H: 4 },
  { name: "B1 T256 C768 H12 (GPT-2 small width)", B: 1, T: 256, C: 768, H: 12 },
];

/** Matmul FLOPs of causal attention counted in full (QK^T and PV; backward has four products). */
export const attentionFlops = (s: AttentionShape, backward: boolean) => (backward ? 8 : 4) * s.B * s.T * s.T * s.C;

/**
 * Times `run` (which records work) against `sync` (which waits for it): one warm-up (compiles),
 * one timed probe, then enough repetitions for about `budgetMs`. Returns milliseconds per run.
 */
export async function timeIt(run: () => void, sync: () => Promise<void>, budgetMs = 1500, maxReps = 30): Promise<number> {
  run();
  await sync();
  let t0 = performance.now();
  run();
  await sync();
  const probe = performance.now() - t0;
  const reps = Math.max(1, Math.min(maxReps, Math.floor(budgetMs / Math.max(probe, 1e-3))));
  if (reps === 1) return probe;
  t0 = performance.now();
  for (let i = 0; i < reps; i++) run();
  await sync();
  return Math.min(probe, (performance.now() - t0) / reps);
}
