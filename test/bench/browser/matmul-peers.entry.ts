// Bundled into headless Chromium by test/bench/gpu-matmul.bench.ts: Hearth, tfjs-backend-webgpu and
// onnxruntime-web's WebGPU provider timed on the same adapter in the same page.

import { openBrowserGpu, matmul, MATMUL_VARIANTS, type MatmulVariant } from "../../../gpu/index";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import * as ort from "onnxruntime-web/webgpu";
import { flops, timeIt, type MatmulShape } from "../shapes";
import { matmulModel } from "./onnx-model";

type Result = Record<string, number>;
const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) / 23 - 0.5);
const gflops = (s: MatmulShape, ms: number) => flops(s) / ms / 1e6;

async function benchHearth(shapes: MatmulShape[], budgetMs: number): Promise<{ chosen: string; gflops: Result; variants: Record<string, Result> }> {
  const ctx = await openBrowserGpu();
  const chosen = ctx.choices.get("matmul") ?? "?";
  const out: Result = {};
  const variants: Record<string, Result> = {};
  for (const s of shapes) {
    const a = ctx.tensor(fill(s.M * s.K), s.transA ? [s.K, s.M] : [s.M, s.K]);
    const b = ctx.tensor(fill(s.K * s.N), s.transB ? [s.N, s.K] : [s.K, s.N]);
    const c = ctx.empty([s.M, s.N]);
    for (const v of [undefined, ...MATMUL_VARIANTS] as Array<MatmulVariant | undefined>) {
      if (v === "naive" && s.M * s.N * s.K > 300 ** 3) continue;
      const ms = await timeIt(() => void matmul(ctx, a, b, { transA: s.transA, transB: s.transB, out: c, variant: v }), () => ctx.sync(), budgetMs);
      if (v === undefined) out[s.name] = gflops(s, ms);
      else (variants[v] ??= {})[s.name] = gflops(s, ms);
    }
    a.release();
    b.release();
    c.release();
  }
  ctx.destroy();
  return { chosen, gflops: out, variants };
}

async function benchTfjs(shapes: MatmulShape[], budgetMs: number): Promise<Result> {
  await tf.setBackend("webgpu");
  await tf.ready();
  const out: Result = {};
  for (const s of shapes) {
    const a = tf.tensor(fill(s.M * s.K), s.transA ? [s.K, s.M] : [s.M, s.K]);
    const b = tf.tensor(fill(s.K * s.N), s.transB ? [s.N, s.K] : [s.K, s.N]);
    let last: tf.Tensor | null = null;
    const run = () => {
      const c = tf.matMul(a, b, s.transA, s.transB);
      last?.dispose();
      last = c;
    };
    const sync = async () => {
      const probe = tf.slice(last!, [0, 0], [1, 1]);
      await probe.data();
      probe.dispose();
    };
    out[s.name] = gflops(s, await timeIt(run, sync, budgetMs));
    (last as tf.Tensor | null)?.dispose();
    a.dispose();
    b.dispose();
  }
  return out;
}

async function benchOrt(shapes: MatmulShape[], budgetMs: number): Promise<Result> {
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = 1;
  const out: Result = {};
  for (const s of shapes) {
    const session = await ort.InferenceSession.create(matmulModel(s.M, s.N, s.K, s.transA, s.transB), {
      executionProviders: ["webgpu"],
      preferredOutputLocation: "gpu-buffer",
    });
    const device = (await ort.env.webgpu.device) as GPUDevice;
    const upload = (data: Float32Array, dims: number[]) => {
      const buffer = device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
      return ort.Tensor.fromGpuBuffer(buffer, { dataType: "float32", dims });
    };
    const feeds = {
      A: upload(fill(s.M * s.K), s.transA ? [s.K, s.M] : [s.M, s.K]),
      B: upload(fill(s.K * s.N), s.transB ? [s.N, s.K] : [s.K, s.N]),
    };
    let pending: Promise<ort.InferenceSession.OnnxValueMapType> | null = null;
    let results: ort.InferenceSession.OnnxValueMapType[] = [];
    const run = () => {
      const prev = pending;
      pending = (prev ?? Promise.resolve(null)).then(() => session.run(feeds));
      pending.then((r) => results.push(r));
    };
    const sync = async () => {
      await pending;
      await device.queue.onSubmittedWorkDone();
      for (const r of results) (r.C as ort.Tensor).dispose();
      results = [];
    };
    out[s.name] = gflops(s, await timeIt(run, sync, budgetMs));
    await session.release();
  }
  return out;
}

Object.assign(globalThis, { __benchHearth: benchHearth, __benchTfjs: benchTfjs, __benchOrt: benchOrt, __hearthReady: true });
