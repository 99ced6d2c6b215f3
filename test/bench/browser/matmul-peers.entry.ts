// Bundled into headless Chromium by test/bench/gpu-matmul.bench.ts: Hearth, tfjs-backend-webgpu and
// onnxruntime-web's WebGPU provider on the same adapter in the same page. Node drives it through
// __prepare / __time / __dispose so the libraries are measured in interleaved rounds.

import { openBrowserGpu, matmul, MATMUL_VARIANTS, type GpuContext, type MatmulVariant } from "../../../gpu/index";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import * as ort from "onnxruntime-web/webgpu";
import { timeIt, type MatmulShape } from "../shapes";
import { matmulModel } from "./onnx-model";

export type Library = "hearth" | "tfjs" | "ort" | `hearth:${MatmulVariant}`;

interface Prepared {
  run: () => void;
  sync: () => Promise<void>;
  dispose: () => Promise<void>;
}

const fill = (n: number) => Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 23) / 23 - 0.5);
const dimsA = (s: MatmulShape) => (s.transA ? [s.K, s.M] : [s.M, s.K]);
const dimsB = (s: MatmulShape) => (s.transB ? [s.N, s.K] : [s.K, s.N]);

let hearth: GpuContext | null = null;
let tfReady = false;

async function prepareHearth(s: MatmulShape, variant?: MatmulVariant): Promise<Prepared> {
  hearth ??= await openBrowserGpu();
  const ctx = hearth;
  const a = ctx.tensor(fill(s.M * s.K), dimsA(s));
  const b = ctx.tensor(fill(s.K * s.N), dimsB(s));
  const c = ctx.empty([s.M, s.N]);
  return {
    run: () => void matmul(ctx, a, b, { transA: s.transA, transB: s.transB, out: c, variant }),
    sync: () => ctx.sync(),
    dispose: async () => [a, b, c].forEach((t) => t.release()),
  };
}

async function prepareTfjs(s: MatmulShape): Promise<Prepared> {
  if (!tfReady) {
    await tf.setBackend("webgpu");
    await tf.ready();
    tfReady = true;
  }
  const a = tf.tensor(fill(s.M * s.K), dimsA(s));
  const b = tf.tensor(fill(s.K * s.N), dimsB(s));
  let last: tf.Tensor | null = null;
  return {
    run: () => {
      const c = tf.matMul(a, b, s.transA, s.transB);
      last?.dispose();
      last = c;
    },
    sync: async () => {
      const probe = tf.slice(last!, [0, 0], [1, 1]);
      await probe.data();
      probe.dispose();
    },
    dispose: async () => {
      last?.dispose();
      a.dispose();
      b.dispose();
    },
  };
}

async function prepareOrt(s: MatmulShape): Promise<Prepared> {
  ort.env.wasm.wasmPaths = "/ort/";
  ort.env.wasm.numThreads = 1;
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
  const feeds = { A: upload(fill(s.M * s.K), dimsA(s)), B: upload(fill(s.K * s.N), dimsB(s)) };
  let pending: Promise<unknown> = Promise.resolve();
  let results: ort.InferenceSession.OnnxValueMapType[] = [];
  return {
    // session.run is async; chain the runs so they queue like the other libraries' dispatches.
    run: () => {
      pending = pending.then(() => session.run(feeds)).then((r) => void results.push(r));
    },
    sync: async () => {
      await pending;
      await device.queue.onSubmittedWorkDone();
      for (const r of results) (r.C as ort.Tensor).dispose();
      results = [];
    },
    dispose: async () => {
      await session.release();
    },
  };
}

const prepared = new Map<number, Prepared>();
let nextId = 1;

async function prepare(lib: Library, s: MatmulShape): Promise<number> {
  const p =
    lib === "tfjs" ? await prepareTfjs(s) : lib === "ort" ? await prepareOrt(s) : await prepareHearth(s, lib === "hearth" ? undefined : (lib.slice(7) as MatmulVariant));
  prepared.set(nextId, p);
  return nextId++;
}

async function time(id: number, budgetMs: number): Promise<number> {
  const p = prepared.get(id)!;
  return timeIt(p.run, p.sync, budgetMs);
}

async function dispose(id: number): Promise<void> {
  await prepared.get(id)?.dispose();
  prepared.delete(id);
}

async function hearthInfo(): Promise<{ choices: Record<string, string>; variants: string[] }> {
  hearth ??= await openBrowserGpu();
  return { choices: Object.fromEntries(hearth.choices), variants: MATMUL_VARIANTS };
}

Object.assign(globalThis, { __prepare: prepare, __time: time, __dispose: dispose, __hearthInfo: hearthInfo, __hearthReady: true });
