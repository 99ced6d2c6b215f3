// Bundled into headless Chromium by test/bench/train.bench.ts: the same GPT (same shapes, same
// initial weights, same batches, same AdamW + clipping + schedule) trained by Hearth (gpu/train) and
// by @tensorflow/tfjs on its WebGPU backend, on the same adapter in the same page.
//
// Every GPUDevice in the page is instrumented (createBuffer / createTexture / destroy, submits,
// dispatches) so both libraries' GPU memory and command counts are measured the same way.

import { openBrowserGpu, type GpuContext } from "../../../gpu/index";
import { GPT } from "../../../gpu/nn/gpt";
import { decays, initParameters, type GPTConfig } from "../../../gpu/nn/config";
import { BatchSampler, learningRate, train } from "../../../gpu/train";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";

export interface TrainSpec {
  config: GPTConfig;
  batchSize: number;
  /** Steps run before the clock starts (pipeline / shader compilation). */
  warmSteps: number;
  /** Steps timed after the warm-up. */
  timedSteps: number;
  lr: number;
  seed: number;
}

export interface TrainFigures {
  tokensPerSec: number;
  msPerStep: number;
  /** Wall time of the warm-up steps (dominated by shader compilation). */
  warmMs: number;
  submitsPerStep: number;
  dispatchesPerStep: number;
  /** Peak bytes of live GPU buffers and textures on the library's device during training. */
  peakDeviceBytes: number;
  /** Hearth only: peak bytes of pooled tensors handed out at once (params, grads, moments, activations). */
  peakTensorBytes?: number;
  /** Loss read back after the first and the last step. */
  firstLoss: number;
  lastLoss: number;
  notes: string;
}

// ---------- GPU instrumentation (both libraries alike) ----------

interface DeviceCounters {
  live: number;
  peak: number;
}
const counters = new WeakMap<GPUDevice, DeviceCounters>();
const sizes = new WeakMap<object, { device: GPUDevice; bytes: number }>();
let submits = 0;
let dispatches = 0;

function countersOf(device: GPUDevice): DeviceCounters {
  let c = counters.get(device);
  if (!c) counters.set(device, (c = { live: 0, peak: 0 }));
  return c;
}

function track(device: GPUDevice, obj: object, bytes: number): void {
  const c = countersOf(device);
  sizes.set(obj, { device, bytes });
  c.live += bytes;
  c.peak = Math.max(c.peak, c.live);
}

function untrack(obj: object): void {
  const s = sizes.get(obj);
  if (!s) return;
  sizes.delete(obj);
  countersOf(s.device).live -= s.bytes;
}

function instrument(): void {
  const D = GPUDevice.prototype;
  const createBuffer = D.createBuffer;
  D.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const b = createBuffer.call(this, desc);
    track(this, b, desc.size);
    return b;
  };
  const createTexture = D.createTexture;
  D.createTexture = function (this: GPUDevice, desc: GPUTextureDescriptor) {
    const t = createTexture.call(this, desc);
    const [w, h = 1] = Array.isArray(desc.size) ? desc.size : [(desc.size as GPUExtent3DDict).width, (desc.size as GPUExtent3DDict).height];
    const texel = desc.format === "rgba32float" ? 16 : desc.format.includes("32") ? 4 : 4;
    track(this, t, w * (h ?? 1) * texel);
    return t;
  };
  const bufDestroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    untrack(this);
    return bufDestroy.call(this);
  };
  const texDestroy = GPUTexture.prototype.destroy;
  GPUTexture.prototype.destroy = function (this: GPUTexture) {
    untrack(this);
    return texDestroy.call(this);
  };
  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (this: GPUQueue, cbs: Iterable<GPUCommandBuffer>) {
    submits++;
    return submit.call(this, cbs);
  };
  const dispatch = GPUComputePassEncoder.prototype.dispatchWorkgroups;
  GPUComputePassEncoder.prototype.dispatchWorkgroups = function (this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
    dispatches++;
    return dispatch.call(this, x, y, z);
  };
}
instrument();

/** The training stream both libraries sample from: UTF-8 bytes of a varied synthetic text. */
function corpus(bytes: number): Uint8Array {
  const words = ["the", "river", "runs", "past", "a", "quiet", "house", "where", "an", "old", "cat", "sleeps", "and", "birds", "sing", "of", "green", "trees", "under", "moon"];
  let k = 12345;
  let s = "";
  while (s.length < bytes) {
    k = (k * 1103515245 + 12345) >>> 0;
    s += words[(k >>> 8) % words.length] + ((k >>> 20) % 9 === 0 ? ".\n" : " ");
  }
  return new TextEncoder().encode(s.slice(0, bytes));
}

const stream = corpus(200_000);

// ---------- Hearth ----------

let hearth: GpuContext | null = null;

async function trainHearth(spec: TrainSpec): Promise<TrainFigures> {
  hearth ??= await openBrowserGpu();
  const ctx = hearth;
  const { batchSize: B, config } = spec;
  const T = config.blockSize;
  const model = GPT.create(ctx, config, { seed: spec.seed });
  await model.tune(B, T);
  ctx.pool.trim(); // what tuning left in the free lists is not the model's
  ctx.pool.resetPeak();
  const device = countersOf(ctx.device);
  device.peak = device.live;
  const steps = spec.warmSteps + spec.timedSteps;
  const tStart = performance.now();
  let t0 = 0;
  let s0 = 0;
  let d0 = 0;
  const res = await train(
    model,
    { train: stream },
    { steps, batchSize: B, lr: spec.lr, warmupSteps: 0, logEvery: steps, seed: spec.seed },
    {
      onStep: async (m) => {
        if (m.step !== spec.warmSteps) return;
        await ctx.sync();
        t0 = performance.now();
        s0 = submits;
        d0 = dispatches;
      },
    },
  );
  const t1 = performance.now(); // train() read the loss back after the last step: the GPU is done
  const figures: TrainFigures = {
    tokensPerSec: (spec.timedSteps * B * T) / ((t1 - t0) / 1000),
    msPerStep: (t1 - t0) / spec.timedSteps,
    warmMs: t0 - tStart,
    // The final loss readback rides on the last step's submit.
    submitsPerStep: (submits - s0) / spec.timedSteps,
    dispatchesPerStep: (dispatches - d0) / spec.timedSteps,
    peakDeviceBytes: device.peak,
    peakTensorBytes: ctx.pool.getStats().peakBytesInUse,
    firstLoss: res.losses[0].loss,
    lastLoss: res.losses.at(-1)!.loss,
    notes: `matmul choices ${JSON.stringify(Object.fromEntries([...ctx.choices].filter(([k]) => k.startsWith("matmul"))))}`,
  };
  model.release();
  return figures;
}

// ---------- tfjs: the same GPT written with tf ops ----------

let tfReady = false;

function tfGPT(config: GPTConfig, seed: number) {
  const weights = initParameters(config, seed);
  const v = new Map<string, tf.Variable>();
  for (const [name, data] of weights) {
    const shape = name === "wte.weight" ? [config.vocabSize, config.nEmbd] : name === "wpe.weight" ? [config.blockSize, config.nEmbd] : shapeOf(name, config);
    v.set(name, tf.variable(tf.tensor(data, shape), true, name));
  }
  const m = new Map([...v].map(([n, p]) => [n, tf.variable(tf.zerosLike(p), false, `${n}.m`)]));
  const s = new Map([...v].map(([n, p]) => [n, tf.variable(tf.zerosLike(p), false, `${n}.v`)]));
  return { params: v, m, v: s };
}

function shapeOf(name: string, c: GPTConfig): number[] {
  const C = c.nEmbd;
  if (/ln_\w+\.(weight|bias)$/.test(name)) return [C];
  if (name.endsWith("c_attn.weight")) return [C, 3 * C];
  if (name.endsWith("c_attn.bias")) return [3 * C];
  if (name.endsWith("attn.c_proj.weight")) return [C, C];
  if (name.endsWith("c_fc.weight")) return [C, 4 * C];
  if (name.endsWith("c_fc.bias")) return [4 * C];
  if (name.endsWith("mlp.c_proj.weight")) return [4 * C, C];
  if (name.endsWith("c_proj.bias")) return [C];
  throw new Error(`no shape for ${name}`);
}

function layerNormTf(x: tf.Tensor2D, g: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(g).add(b) as tf.Tensor2D;
}

function geluTf(x: tf.Tensor): tf.Tensor {
  // x * x * x, not pow(x, 3): WGSL's pow is undefined for negative bases.
  const inner = x.add(x.mul(x).mul(x).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
  return x.mul(0.5).mul(tf.tanh(inner).add(1));
}

/** Mean cross-entropy of the GPT on tokens [B*T] against targets [B*T]. */
function lossTf(p: Map<string, tf.Variable>, c: GPTConfig, tokens: tf.Tensor1D, targets: tf.Tensor1D, B: number, T: number, mask: tf.Tensor): tf.Scalar {
  const C = c.nEmbd;
  const H = c.nHead;
  const hd = C / H;
  const w = (n: string) => p.get(n)!;
  const pos = w("wpe.weight").slice([0, 0], [T, C]);
  let x = tf.gather(w("wte.weight"), tokens).reshape([B, T, C]).add(pos).reshape([B * T, C]) as tf.Tensor2D;
  const heads = (t: tf.Tensor) => t.reshape([B, T, H, hd]).transpose([0, 2, 1, 3]) as tf.Tensor4D;
  for (let l = 0; l < c.nLayer; l++) {
    const h = (n: string) => w(`h.${l}.${n}`);
    const ln1 = layerNormTf(x, h("ln_1.weight"), h("ln_1.bias"));
    const qkv = tf.matMul(ln1, h("attn.c_attn.weight") as tf.Tensor2D).add(h("attn.c_attn.bias"));
    const [q, k, v] = tf.split(qkv, 3, 1).map(heads);
    const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(hd)).add(mask);
    const y = tf.matMul(tf.softmax(scores), v).transpose([0, 2, 1, 3]).reshape([B * T, C]) as tf.Tensor2D;
    x = x.add(tf.matMul(y, h("attn.c_proj.weight") as tf.Tensor2D).add(h("attn.c_proj.bias")));
    const ln2 = layerNormTf(x, h("ln_2.weight"), h("ln_2.bias"));
    const fc = geluTf(tf.matMul(ln2, h("mlp.c_fc.weight") as tf.Tensor2D).add(h("mlp.c_fc.bias"))) as tf.Tensor2D;
    x = x.add(tf.matMul(fc, h("mlp.c_proj.weight") as tf.Tensor2D).add(h("mlp.c_proj.bias")));
  }
  const xf = layerNormTf(x, w("ln_f.weight"), w("ln_f.bias"));
  const logits = tf.matMul(xf, w("wte.weight") as tf.Tensor2D, false, true);
  const logp = tf.logSoftmax(logits);
  return tf.neg(tf.sum(tf.mul(tf.oneHot(targets, c.vocabSize), logp))).div(B * T) as tf.Scalar;
}

async function trainTfjs(spec: TrainSpec): Promise<TrainFigures> {
  if (!tfReady) {
    await tf.setBackend("webgpu");
    await tf.ready();
    tfReady = true;
  }
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const dev = countersOf(device);
  const { batchSize: B, config } = spec;
  const T = config.blockSize;
  const model = tfGPT(config, spec.seed);
  const names = [...model.params.keys()];
  const varList = names.map((n) => model.params.get(n)!);
  const mask = tf.tensor(Float32Array.from({ length: T * T }, (_, i) => (i % T <= Math.floor(i / T) ? 0 : -1e9)), [T, T]);
  const sampler = new BatchSampler(stream, B, T, spec.seed);
  const steps = spec.warmSteps + spec.timedSteps;
  // gpu/train's defaults, so both runs follow the same optimizer trajectory.
  const [b1, b2, eps, wd, clip] = [0.9, 0.95, 1e-8, 0.1, 1.0];
  const schedule = { lr: spec.lr, warmupSteps: 0, steps };
  const step = (i: number): tf.Scalar =>
    tf.tidy(() => {
      const { x, y } = sampler.next();
      const tokens = tf.tensor1d(x, "int32");
      const targets = tf.tensor1d(y, "int32");
      const { value, grads } = tf.variableGrads(() => lossTf(model.params, config, tokens, targets, B, T, mask), varList);
      const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))));
      const scale = tf.minimum(1, tf.div(clip, norm.add(1e-6)));
      const lr = learningRate(i, schedule);
      const bc1 = 1 - b1 ** (i + 1);
      const bc2 = 1 - b2 ** (i + 1);
      for (const n of names) {
        const p = model.params.get(n)!;
        const g = grads[n].mul(scale);
        const m = model.m.get(n)!;
        const v = model.v.get(n)!;
        const m1 = m.mul(b1).add(g.mul(1 - b1));
        const v1 = v.mul(b2).add(g.square().mul(1 - b2));
        m.assign(m1);
        v.assign(v1);
        const decayed = decays(n) ? p.mul(1 - lr * wd) : p;
        p.assign(decayed.sub(m1.div(bc1).div(tf.sqrt(v1.div(bc2)).add(eps)).mul(lr)));
      }
      return tf.keep(value);
    });
  const tStart = performance.now();
  dev.peak = dev.live;
  let firstLoss = NaN;
  let t0 = 0;
  let s0 = 0;
  let d0 = 0;
  let last: tf.Scalar | null = null;
  for (let i = 0; i < steps; i++) {
    if (i === spec.warmSteps) {
      await last!.data(); // drain the queue before the clock starts
      t0 = performance.now();
      s0 = submits;
      d0 = dispatches;
    }
    const loss = step(i);
    if (i === 0) firstLoss = (await loss.data())[0];
    last?.dispose();
    last = loss;
  }
  const lastLoss = (await last!.data())[0];
  const t1 = performance.now();
  const mem = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
  const figures: TrainFigures = {
    tokensPerSec: (spec.timedSteps * B * T) / ((t1 - t0) / 1000),
    msPerStep: (t1 - t0) / spec.timedSteps,
    warmMs: t0 - tStart,
    submitsPerStep: (submits - s0) / spec.timedSteps,
    dispatchesPerStep: (dispatches - d0) / spec.timedSteps,
    peakDeviceBytes: dev.peak,
    firstLoss,
    lastLoss,
    notes: `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, tensors alive ${mem.numTensors}`,
  };
  last!.dispose();
  mask.dispose();
  for (const map of [model.params, model.m, model.v]) for (const t of map.values()) t.dispose();
  return figures;
}

async function adapterInfo(): Promise<string> {
  const a = await navigator.gpu.requestAdapter();
  const i = a?.info;
  return i ? `${i.vendor} ${i.architecture} ${i.description}`.trim() : "unknown adapter";
}

Object.assign(globalThis, { __trainHearth: trainHearth, __trainTfjs: trainTfjs, __adapterInfo: adapterInfo, __hearthReady: true });
