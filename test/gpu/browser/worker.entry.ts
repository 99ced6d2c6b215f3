// Runs in a module Web Worker: the engine through WorkerNavigator.gpu, one matmul + softmax check.

import { openBrowserGpu, matmul, softmax } from "../../../gpu/index";
import { matmulRef } from "../../../gpu/reference/matmul";
import { softmaxRef } from "../../../gpu/reference/softmax";

async function check(): Promise<{ ok: boolean; detail: string }> {
  const ctx = await openBrowserGpu({ autotune: false });
  const [M, N, K] = [7, 33, 65];
  const a = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i));
  const b = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i));
  const C = matmul(ctx, ctx.tensor(a, [M, K]), ctx.tensor(b, [K, N]));
  const S = softmax(ctx, C);
  const [c, s] = await ctx.readMany([C, S]);
  const refC = matmulRef(a, b, { batchA: 1, batchB: 1, M, N, K });
  const refS = softmaxRef(refC, N);
  for (let i = 0; i < c.length; i++) {
    if (!(Math.abs(c[i] - refC[i]) < 1e-3 && Math.abs(s[i] - refS[i]) < 1e-4)) return { ok: false, detail: `element ${i}: ${c[i]} / ${s[i]}` };
  }
  ctx.destroy();
  return { ok: true, detail: `${c.length} values` };
}

check().then(
  (r) => postMessage(r),
  (e) => postMessage({ ok: false, detail: String(e) }),
);
